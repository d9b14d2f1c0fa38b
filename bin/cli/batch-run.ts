/** A batch run followed to its end, and its outcome per view: `batch run` and `backfill` share them. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BatchRunAnswer, DriftlessApi } from './client';
import { CliError } from './errors';
import { iso, printTable, progress } from './output';

/** Waits for a batch run to finish, showing its state; a failed run is a CliError, after what it did commit. */
export async function waitForBatchRun(api: DriftlessApi, id: string): Promise<BatchRunAnswer> {
  const shown = progress();
  const started = Date.now();
  for (;;) {
    const run = await api.batchRun(id);
    if (run.status !== 'RUNNING') {
      shown.done();
      if (run.status === 'FAILED') {
        // The views that did commit are shown: one view's failure holds back no other.
        if (run.views.some((view) => view.outcome !== null)) printBatchRun(run);
        throw new CliError(`batch run ${id} failed: ${run.error}`);
      }
      return run;
    }
    const loading = run.views.flatMap((view) =>
      view.progress === null
        ? []
        : [`${view.view} ${view.progress.daysDone}/${view.progress.daysTotal} days`],
    );
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    shown.update(
      `batch run ${id}: ${run.status} ${seconds}s${loading.length > 0 ? `, ${loading.join(', ')}` : ''}`,
    );
    await sleep(500);
  }
}

type ViewOutcome = BatchRunAnswer['views'][number]['outcome'];

/** Whether the run committed the view, and if not, why. */
function committed(byThisRun: boolean, outcome: ViewOutcome): string {
  if (byThisRun) return 'yes';
  if (outcome?.status === 'failed') return `failed in ${outcome.step}: ${outcome.error}`;
  if (outcome?.status === 'backfilling')
    return outcome.awaitingSpeed === undefined
      ? 'backfilling (the next run goes on)'
      : `loaded; not switched: ${outcome.awaitingSpeed.reason}`;
  if (outcome?.status === 'rolled-back') return `no: ${outcome.reason}`;
  return 'no';
}

/** The run's duration, each view's watermark, commit, backfill and drift, then what it skipped or doubted. */
export function printBatchRun(run: BatchRunAnswer): void {
  console.log(
    `batch run ${run.id} ${run.status} in ${(((run.stoppedAt ?? Date.now()) - run.startedAt) / 1000).toFixed(1)}s`,
  );
  printTable(
    run.views.map((view) => {
      const outcome = view.outcome;
      const backfill = outcome !== null && 'backfill' in outcome ? outcome.backfill : null;
      return {
        view: view.view,
        watermark: iso(view.watermark),
        committed: committed(view.committedByThisRun, view.outcome),
        // Exact values it changed (`driftless restatements`); still being recorded: the next clean-up's.
        restated: outcome?.status === 'committed' ? (outcome.restatements ?? 'recording') : '',
        backfill: backfill
          ? `${backfill.daysDone}/${backfill.daysTotal} days (through ${backfill.loadedThrough || '-'})`
          : '',
        rowsCompared: view.drift?.rowsCompared ?? '',
        rowsDiffering: view.drift?.rowsDiffering ?? '',
        driftRatio: view.drift?.driftRatio ?? '',
      };
    }),
  );
  const skipped = run.skippedLines;
  if (skipped?.error) console.log(`archive lines skipped: not counted (${skipped.error})`);
  else if (skipped?.lines)
    console.log(
      `archive lines skipped (malformed): ${skipped.lines} in ${skipped.objects} objects, e.g. ${skipped.byObject[0]?.object}`,
    );
  for (const distant of run.distantCopies ?? []) {
    if (distant.error)
      console.log(`${distant.catalog}: duplicates beyond the dedupe horizon: not checked (${distant.error})`);
    else if (distant.ids)
      console.log(
        `${distant.catalog}: ids counted more than once (copies over ${distant.horizonDays} day(s) apart): ${distant.ids}, e.g. ${distant.listed.slice(0, 3).join(', ')} (driftless data-quality --type ${distant.catalog})`,
      );
  }
}
