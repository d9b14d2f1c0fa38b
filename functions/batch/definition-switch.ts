import type { AwaitingSpeed } from '../adapters/batch-store/runs';
import type { Manifest } from '../adapters/dynamo-batch-store';
import { definitionSwitchFrom, maySwitchDefinition } from '../core';
import { type BatchDeps, viewNamed } from './deps';
import type { ViewPlan } from './plan';

/**
 * Why a loaded backfill may not switch the manifest yet, or null when it may: a new view version replaces
 * the version the manifest serves only at a watermark from which its speed items counted every bucket
 * (`maySwitchDefinition`); until then the previous version is served whole and the next run resumes the
 * backfill. A backfill of the version already served (asked for), or a view's first commit, has no
 * previous version to keep serving: it never waits.
 */
export async function awaitingSpeed(
  deps: BatchDeps,
  plan: ViewPlan,
  /** The manifest served now. */
  served: Manifest | null,
): Promise<AwaitingSpeed | null> {
  if (!plan.backfill) return null;
  if (served === null || served.version === plan.version) return null;
  const countingSince = (await deps.store.definitions.get(plan.view, plan.version))?.countingSince ?? null;
  const { bucket } = viewNamed(deps, plan.view).time;
  const margin = deps.definitionSwitchMarginMs;
  if (maySwitchDefinition(plan.watermark, countingSince, bucket, margin)) return null;
  const switchFrom = definitionSwitchFrom(countingSince, bucket, margin);
  const at = (ms: number) => new Date(ms).toISOString();
  return {
    countingSince,
    switchFrom,
    watermark: plan.watermark,
    reason:
      countingSince === null
        ? `no speed function counts v${plan.version} yet: v${served.version} is served until one does, and a run's watermark passes the bucket it began in (plus ${margin / 1000} s)`
        : `the speed layer counts v${plan.version} since ${at(countingSince)}: v${served.version} is served until a run's watermark reaches ${at(switchFrom as number)} (this run's: ${at(plan.watermark)})`,
  };
}

/**
 * Why a manifest of `version` at `watermark` could not be served again without a hole, or null when it
 * can: what a rollback must check before it returns to a kept manifest. Its version must build from the
 * registry, and be counted by the speed layer now (`countingSince` set: the code's version, the served
 * one, or the one a switch replaced within the rollback retention); a version other than the one served
 * now must moreover have been counted without a gap since before `watermark` (plus the switch margin),
 * as a definition switch requires.
 */
export async function unservableReason(
  deps: Pick<BatchDeps, 'store' | 'views' | 'definitionSwitchMarginMs'>,
  viewName: string,
  version: number,
  watermark: number,
): Promise<string | null> {
  const code = deps.views.find((view) => view.name === viewName);
  if (code === undefined) return `no view ${viewName}`;
  const definition = await deps.store.definitions.definitionOf(code, version);
  if (definition.error !== null) return definition.error;
  const countingSince = (await deps.store.definitions.get(viewName, version))?.countingSince ?? null;
  if (countingSince === null)
    return `the speed layer does not count ${viewName} v${version} (it stopped after the rollback retention, or was never deployed): its speed items miss events`;
  const served = await deps.store.getManifest(viewName);
  if (served?.version === version) return null;
  const { bucket } = definition.view.time;
  if (maySwitchDefinition(watermark, countingSince, bucket, deps.definitionSwitchMarginMs)) return null;
  return `the speed layer counts ${viewName} v${version} only since ${new Date(countingSince).toISOString()}: a manifest with watermark ${new Date(watermark).toISOString()} would serve buckets it did not count`;
}
