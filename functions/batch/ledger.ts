import pLimit from 'p-limit';
import type { DynamoBatchStore, Manifest, RestatementEntry } from '../adapters/dynamo-batch-store';
import type { ViewDefinition } from '../core';
import { commitCause, type RestatementCause, restatedValues } from '../core/restatements';
import type { BatchDeps } from './deps';
import type { ViewPlan } from './plan';

/** What recording a manifest change in the ledger needs. */
export interface LedgerDeps {
  readonly store: DynamoBatchStore;
  readonly views: readonly ViewDefinition[];
}

/** Day versions read at once while diffing a manifest change. */
const DAYS_READ_AT_ONCE = 8;

/** The start of a `YYYY-MM-DD` day, epoch milliseconds. */
const dayStart = (day: string) => Date.parse(`${day}T00:00:00Z`);

/**
 * The group fields of the view version that computed `manifest`'s rows: the code's own version's, else
 * the registry's document of that version. A version registered nowhere (written before the registry) is
 * taken to group by the code's fields.
 */
async function groupByOf(deps: LedgerDeps, manifest: Manifest): Promise<readonly string[]> {
  const code = deps.views.find((view) => view.name === manifest.view);
  if (code?.version === manifest.version) return code.groupBy;
  const registered = await deps.store.definitions.get(manifest.view, manifest.version);
  return registered?.document.groupBy ?? code?.groupBy ?? [];
}

/**
 * Records in the ledger every exact value that changed when the manifest `previous` was replaced by
 * `next`: per day whose batch version differs, the two versions' rows diffed below both watermarks (the
 * buckets served exact before and after). Recorded at `next.committedAt` under `runId`, so a retried
 * step records the same items. Returns how many values were restated.
 */
export async function recordManifestChange(
  deps: LedgerDeps,
  change: {
    readonly previous: Manifest;
    readonly next: Manifest;
    readonly runId: string;
    readonly cause: RestatementCause;
  },
): Promise<number> {
  const { previous, next, runId, cause } = change;
  const exactBelow = Math.min(previous.watermark, next.watermark);
  const days = [...new Set([...Object.keys(previous.days), ...Object.keys(next.days)])]
    .filter((day) => previous.days[day] !== next.days[day] && dayStart(day) < exactBelow)
    .sort();
  const read = (manifest: Manifest, day: string) => {
    const batchVersion = manifest.days[day];
    return batchVersion === undefined
      ? []
      : deps.store.readDayRows(manifest.view, manifest.version, day, batchVersion);
  };
  const [oldGroupBy, newGroupBy] = await Promise.all([groupByOf(deps, previous), groupByOf(deps, next)]);
  const limit = pLimit(DAYS_READ_AT_ONCE);
  const perDay = await Promise.all(
    days.map((day) =>
      limit(async (): Promise<RestatementEntry[]> => {
        const [before, after] = await Promise.all([read(previous, day), read(next, day)]);
        return restatedValues(
          { groupBy: oldGroupBy, rows: before },
          { groupBy: newGroupBy, rows: after },
          exactBelow,
        ).map((value) => ({
          ...value,
          // '' for a day one side had no version of.
          batchVersion: next.days[day] ?? '',
          previousBatchVersion: previous.days[day] ?? '',
          cause,
        }));
      }),
    ),
  );
  const entries = perDay.flat();
  if (entries.length > 0) await deps.store.restatements.record(next.view, runId, next.committedAt, entries);
  return entries.length;
}

/**
 * Records what a run's commit restated: the diff of the manifest it replaced (kept in the history under
 * the revision the plan read) and the one it committed. A view's first commit restates nothing. The
 * manifest is committed whatever happens here: a failure is logged and counted as null, not thrown, so
 * that the view is not reported failed when readers already serve it.
 */
export async function recordCommitRestatements(
  deps: BatchDeps,
  committed: Manifest,
  viewPlan: ViewPlan,
): Promise<number | null> {
  try {
    if (viewPlan.expectedRevision === 0) return 0;
    const replaced = await deps.store.manifestHistory.get(viewPlan.view, viewPlan.expectedRevision);
    if (replaced === null) throw new Error(`no history of revision ${viewPlan.expectedRevision}`);
    const previous = replaced.manifest;
    return await recordManifestChange(deps, {
      previous,
      next: committed,
      runId: committed.lastRunId,
      cause: commitCause(previous, committed, viewPlan.backfill),
    });
  } catch (error) {
    deps.logger.error('restatements not recorded', {
      view: viewPlan.view,
      runId: committed.lastRunId,
      error,
    });
    return null;
  }
}
