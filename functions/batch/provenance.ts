import { type BatchProvenance, PROVENANCE_DAY_RANGES } from '../adapters/batch-store/provenance';
import type { Manifest, ViewProgress } from '../adapters/dynamo-batch-store';
import { type DayRange, dedupeReadRanges, definitionHash } from '../core';
import { consecutiveDayRanges } from '../core/days';
import { type BatchDeps, viewNamed } from './deps';
import type { ViewPlan } from './plan';

/**
 * Records what a load of a view read from the archive: the objects and bytes of the days its query
 * reads (its days and the dedupe horizon before them), under its batch version (the run's id).
 */
export async function recordLoadRead(
  deps: BatchDeps,
  runId: string,
  plan: ViewPlan,
  dayRanges: readonly DayRange[],
): Promise<void> {
  const first = dayRanges[0]?.[0];
  if (first === undefined) return;
  const view = viewNamed(deps, plan.view);
  await deps.store.provenance.recordLoad(
    view.name,
    runId,
    first,
    view.events.name,
    dedupeReadRanges(dayRanges, view.events.dedupeHorizonDays),
  );
}

/**
 * Records the provenance of each batch version a commit is about to make the manifest cite: the days this
 * view version's loads wrote (one version for a run's days; several for a backfill resumed over runs), the
 * commit's run, watermark, revision and time, the definition's hash, and what the version's loads read.
 * Called before the manifest flips, so that no cited version lacks one. A record is written once: a
 * retried commit step finds its first attempt's records, and gives back the manifest with that attempt's
 * commit time, so that the records, the history and the manifest agree on it.
 *
 * A record another run wrote is one whose commit never happened: that run's manifest write lost, and
 * this run, resuming its backfill, cites the same versions. `replaceUncommitted`, called once this run's
 * manifest write is done (or found done by a retried step), replaces those records with this commit's.
 */
export async function recordProvenance(
  deps: BatchDeps,
  runId: string,
  plan: ViewPlan,
  drafted: Manifest,
  progress: ViewProgress,
): Promise<{ manifest: Manifest; replaceUncommitted: (committed: Manifest) => Promise<void> }> {
  const view = viewNamed(deps, plan.view);
  const daysByVersion = Map.groupBy(Object.entries(progress.days), ([, batchVersion]) => batchVersion);
  let next = drafted;
  const uncommitted: { record: BatchProvenance; stale: BatchProvenance }[] = [];
  for (const [batchVersion, entries] of daysByVersion) {
    const ranges = consecutiveDayRanges(entries.map(([day]) => day));
    const record: BatchProvenance = {
      view: view.name,
      batchVersion,
      runId,
      viewVersion: next.version,
      // Taken once, by the commit that drafted the manifest.
      definitionHash: drafted.definitionHash ?? definitionHash(view),
      watermark: next.watermark,
      previousWatermark: plan.previousWatermark,
      revision: next.revision,
      committedAt: next.committedAt,
      days: { count: entries.length, ranges: ranges.length <= PROVENANCE_DAY_RANGES ? ranges : null },
      archive: await deps.store.provenance.archiveRead(view.name, batchVersion),
    };
    const kept = await deps.store.provenance.put(record);
    if (kept.runId !== runId) uncommitted.push({ record, stale: kept });
    // An earlier attempt of this commit wrote it (versions are written in the same order each attempt).
    else if (kept.revision === next.revision && kept.committedAt !== next.committedAt)
      next = { ...next, committedAt: kept.committedAt };
  }
  const replaceUncommitted = async (committed: Manifest) => {
    for (const { record, stale } of uncommitted)
      await deps.store.provenance.replace({ ...record, committedAt: committed.committedAt }, stale);
  };
  return { manifest: next, replaceUncommitted };
}
