import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoBatchStore, LedgerRun, Manifest, RestatementEntry } from '../adapters/dynamo-batch-store';
import { BUCKET_WIDTH_MS, type ViewDefinition } from '../core';
import { dayNumber } from '../core/days';
import { commitCause, type RestatementCause, restatedValues } from '../core/restatements';
import type { ViewPlan } from './plan';

/** What recording a manifest change in the ledger needs. */
export interface LedgerDeps {
  readonly store: DynamoBatchStore;
  readonly views: readonly ViewDefinition[];
  readonly logger: Pick<Logger, 'error' | 'info' | 'warn'>;
  readonly now: () => number;
  /** How long one step may spend recording the ledger; what is left, the next clean-up goes on with. */
  readonly ledgerBudgetMs?: number;
}

/** Time the ledger gets, unless `ledgerBudgetMs` says: a share of each step's timeout (lib/batch-layer.ts). */
export const LEDGER_BUDGET_MS = {
  /** Of the commit step's 5 minutes, for all its views: the outcome and reports still need writing. */
  commit: 120_000,
  /** Of the clean-up step's 15 minutes: day versions still need deleting. */
  cleanup: 300_000,
  /** Of the API's 29 seconds: the rollback has committed, the client waits. */
  rollback: 5_000,
} as const;

/** When a step started now must stop recording. */
export const ledgerDeadline = (deps: LedgerDeps, step: keyof typeof LEDGER_BUDGET_MS): number =>
  deps.now() + (deps.ledgerBudgetMs ?? LEDGER_BUDGET_MS[step]);

/** Days read at once while diffing: their rows (both versions) are all the diff holds in memory. */
export const DAYS_READ_AT_ONCE = 8;

/**
 * The group fields of the view version that computed `manifest`'s rows, as the registry decides what a
 * version is (`Definitions.definitionOf`); throws, saying why, when it cannot say: the diff would pair
 * rows by the wrong fields.
 */
async function groupByOf(deps: LedgerDeps, manifest: Manifest): Promise<readonly string[]> {
  const code = deps.views.find((view) => view.name === manifest.view);
  if (code === undefined) throw new Error(`view ${manifest.view} is not in the code`);
  const definition = await deps.store.definitions.definitionOf(code, manifest.version);
  if (definition.view === null) throw new Error(`cannot diff its rows: ${definition.error}`);
  return definition.view.groupBy;
}

/** The header of the change from `previous` to `next`, before anything of it is recorded. */
export const ledgerRunOf = (
  previous: Manifest,
  next: Manifest,
  runId: string,
  cause: RestatementCause,
): LedgerRun => ({
  view: next.view,
  runId,
  revision: next.revision,
  previousRevision: previous.revision,
  at: next.committedAt,
  cause,
  watermark: { before: previous.watermark, after: next.watermark },
  complete: false,
  throughDay: '',
  entries: 0,
});

/**
 * The days a change restated values in, in day order: those whose batch version differs, below both
 * watermarks (the buckets served exact before and after).
 */
function changedDays(previous: Manifest, next: Manifest): string[] {
  const exactBelow = Math.min(previous.watermark, next.watermark);
  return [...new Set([...Object.keys(previous.days), ...Object.keys(next.days)])]
    .filter(
      (day) => previous.days[day] !== next.days[day] && dayNumber(day) * BUCKET_WIDTH_MS.day < exactBelow,
    )
    .sort();
}

/**
 * Records a change's restated values from where its header stands, day by day in day order, a few days'
 * rows read at once: each day's entries are written as soon as diffed and the header brought forward
 * after each few days, so memory holds a few days whatever the change's size. Stops at `deadline` (the
 * header says how far it came) or when another writer is further on; the header as it then stands.
 * Idempotent: the same day always makes the same items.
 */
export async function continueRecording(
  deps: LedgerDeps,
  run: LedgerRun,
  previous: Manifest,
  next: Manifest,
  deadline: number,
): Promise<LedgerRun> {
  if (run.complete) return run;
  const exactBelow = Math.min(previous.watermark, next.watermark);
  const days = changedDays(previous, next).filter((day) => day > run.throughDay);
  const [oldGroupBy, newGroupBy] = await Promise.all([groupByOf(deps, previous), groupByOf(deps, next)]);
  const read = (manifest: Manifest, day: string) => {
    const batchVersion = manifest.days[day];
    return batchVersion === undefined
      ? []
      : deps.store.readDayRows(manifest.view, manifest.version, day, batchVersion);
  };
  let progress = run;
  for (let start = 0; start < days.length; start += DAYS_READ_AT_ONCE) {
    if (deps.now() >= deadline) return progress;
    const window = days.slice(start, start + DAYS_READ_AT_ONCE);
    const rows = await Promise.all(window.map((day) => Promise.all([read(previous, day), read(next, day)])));
    let entries = 0;
    for (const [index, day] of window.entries()) {
      const [before, after] = rows[index] as [
        Awaited<ReturnType<typeof read>>,
        Awaited<ReturnType<typeof read>>,
      ];
      const restated: RestatementEntry[] = restatedValues(
        { groupBy: oldGroupBy, rows: before },
        { groupBy: newGroupBy, rows: after },
        exactBelow,
      ).map((value) => ({
        ...value,
        // '' for a day one side had no version of.
        batchVersion: next.days[day] ?? '',
        previousBatchVersion: previous.days[day] ?? '',
        cause: run.cause,
      }));
      await deps.store.restatements.recordDay(run, day, restated);
      entries += restated.length;
    }
    const forward: LedgerRun = {
      ...progress,
      throughDay: window.at(-1) as string,
      entries: progress.entries + entries,
      complete: start + DAYS_READ_AT_ONCE >= days.length,
    };
    if (!(await deps.store.restatements.advance(forward)))
      return (await deps.store.restatements.header(run.view, run.at, run.runId)) ?? forward;
    progress = forward;
  }
  if (progress.complete) return progress;
  // No day left to record (none changed, or another writer recorded them): say so.
  const done: LedgerRun = { ...progress, complete: true };
  return (await deps.store.restatements.advance(done))
    ? done
    : ((await deps.store.restatements.header(run.view, run.at, run.runId)) ?? done);
}

/**
 * Writes the header of a commit's change before its manifest write, so that a crash after that write
 * always leaves one to go on from. A view's first commit restates nothing and has none.
 */
export async function beginCommitRecording(
  deps: LedgerDeps,
  previous: Manifest | null,
  next: Manifest,
  backfill: boolean,
): Promise<void> {
  if (previous === null || previous.revision !== next.revision - 1) return;
  await deps.store.restatements.begin(
    ledgerRunOf(previous, next, next.lastRunId, commitCause(previous, next, backfill)),
  );
}

/**
 * Records what a run's commit restated, within the commit's ledger `deadline`: the diff of the manifest
 * it replaced (kept in the history under the revision the plan read) and the one it committed. The
 * manifest is committed whatever happens here: a failure is logged, the header stays incomplete (the
 * listing says so) and clean-up goes on with it. The count once complete; null while it is not.
 */
export async function recordCommitRestatements(
  deps: LedgerDeps,
  committed: Manifest,
  viewPlan: ViewPlan,
  deadline: number,
): Promise<number | null> {
  try {
    if (viewPlan.expectedRevision === 0) return 0;
    const replaced = await deps.store.manifestHistory.get(viewPlan.view, viewPlan.expectedRevision);
    if (replaced === null) throw new Error(`no history of revision ${viewPlan.expectedRevision}`);
    const previous = replaced.manifest;
    let run = await deps.store.restatements.header(viewPlan.view, committed.committedAt, committed.lastRunId);
    if (run === null) {
      // A manifest committed without a header (by a step from before headers): it gets one now.
      run = ledgerRunOf(
        previous,
        committed,
        committed.lastRunId,
        commitCause(previous, committed, viewPlan.backfill),
      );
      await deps.store.restatements.begin(run);
    }
    const recorded = await continueRecording(deps, run, previous, committed, deadline);
    if (!recorded.complete)
      deps.logger.warn('restatements still being recorded: clean-up goes on', {
        view: viewPlan.view,
        runId: committed.lastRunId,
        throughDay: recorded.throughDay,
      });
    return recorded.complete ? recorded.entries : null;
  } catch (error) {
    deps.logger.error('restatements not recorded yet: clean-up goes on', {
      view: viewPlan.view,
      runId: committed.lastRunId,
      error,
    });
    return null;
  }
}

/** What clean-up did with a view's ledger headers. */
export interface LedgerCleanup {
  /** Headers whose recording it completed. */
  readonly completed: number;
  /** Headers still incomplete after it (its budget ran out, or recording failed: logged). */
  readonly incomplete: number;
  /** Headers it marked abandoned: a manifest their recording diffs is no longer kept. */
  readonly abandoned: number;
  /** Headers deleted: their manifest write lost, nothing of them was served. */
  readonly forgotten: number;
  /** Revisions whose replaced manifests an incomplete recording still needs: kept past the retention. */
  readonly neededRevisions: ReadonlySet<number>;
}

/**
 * Goes on with every incomplete recording of a view's ledger from the two manifests its header names
 * (the previous from the history, the new one from the history or the current manifest), within
 * `deadline`, and deletes headers whose manifest write lost. A recording that can never complete (its
 * revision's manifest is gone, so whether it was served is unknown, or a manifest it diffs is) is marked
 * abandoned, saying why: listed as such, and not tried again. `since` bounds the headers read: the
 * oldest kept replaced manifest's time (a header's previous manifest is replaced at its time, and kept
 * while its recording is incomplete).
 */
export async function completeLedger(
  deps: LedgerDeps,
  view: string,
  current: Manifest | null,
  since: number,
  deadline: number,
): Promise<LedgerCleanup> {
  let completed = 0;
  let incomplete = 0;
  let abandoned = 0;
  const needed = new Set<number>();
  const lost: LedgerRun[] = [];
  const abandon = async (run: LedgerRun, reason: string) => {
    deps.logger.warn('restatements abandoned: they can never be recorded', {
      view,
      runId: run.runId,
      revision: run.revision,
      throughDay: run.throughDay,
      reason,
    });
    if (await deps.store.restatements.abandon(run, reason)) abandoned++;
  };
  for (const { run, state } of await deps.store.restatements.runStates(view, since)) {
    if (state === 'lost') lost.push(run);
    if (run.complete || (state !== 'served' && state !== 'unknown')) continue;
    try {
      if (state === 'unknown') {
        await abandon(
          run,
          `revision ${run.revision}'s manifest is no longer kept: whether its write took effect is unknown`,
        );
        continue;
      }
      const previous = (await deps.store.manifestHistory.get(view, run.previousRevision))?.manifest;
      const next =
        current?.revision === run.revision
          ? current
          : (await deps.store.manifestHistory.get(view, run.revision))?.manifest;
      if (previous === undefined || next === undefined) {
        const gone = previous === undefined ? run.previousRevision : run.revision;
        await abandon(run, `revision ${gone}'s manifest, which its diff reads, is no longer kept`);
        continue;
      }
      const recorded = await continueRecording(deps, run, previous, next, deadline);
      if (recorded.complete) {
        completed++;
        continue;
      }
    } catch (error) {
      deps.logger.error('restatements not recorded: the next clean-up tries again', {
        view,
        runId: run.runId,
        revision: run.revision,
        error,
      });
    }
    incomplete++;
    needed.add(run.previousRevision);
    needed.add(run.revision);
  }
  await deps.store.restatements.forget(lost);
  return { completed, incomplete, abandoned, forgotten: lost.length, neededRevisions: needed };
}
