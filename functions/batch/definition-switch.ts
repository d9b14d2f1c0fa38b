import type { AwaitingSpeed } from '../adapters/batch-store/runs';
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
export async function awaitingSpeed(deps: BatchDeps, plan: ViewPlan): Promise<AwaitingSpeed | null> {
  if (!plan.backfill) return null;
  const served = await deps.store.getManifest(plan.view);
  if (served === null || served.version === plan.version) return null;
  const countingSince = (await deps.store.definitions.get(plan.view, plan.version))?.countingSince ?? null;
  const { bucket } = viewNamed(deps, plan.view).time;
  if (maySwitchDefinition(plan.watermark, countingSince, bucket)) return null;
  const switchFrom = definitionSwitchFrom(countingSince, bucket);
  const at = (ms: number) => new Date(ms).toISOString();
  return {
    countingSince,
    switchFrom,
    reason:
      countingSince === null
        ? `no speed function has counted v${plan.version} yet: v${served.version} is served until one has, and a run's watermark passes the bucket it began in`
        : `the speed layer counts v${plan.version} since ${at(countingSince)}: v${served.version} is served until a run's watermark reaches ${at(switchFrom as number)} (this run's: ${at(plan.watermark)})`,
  };
}
