import type { Command } from 'commander';
import type { ResponseOf } from '../../../functions/api/schemas';
import { iso, printTable } from '../output';
import { apiOf } from '../program';

/**
 * A lateness bin edge or a settle time: seconds under a minute, whole hours in hours, else minutes; `>7d`
 * for the open bin past 7 days.
 */
export function durationText(ms: number | null): string {
  if (ms === null) return '>7d';
  if (ms < 60_000) return `${ms / 1_000}s`;
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${ms / 60_000}m`;
}

type ViewStatus = ResponseOf<'Views'>['views'][number];

/**
 * A new definition backfilling while the served version is: planned, its days loaded, or, every day
 * loaded, that it awaits the speed layer (counting it; then a watermark reaching `switchFrom`).
 */
export function pendingText(pending: ViewStatus['pending']): string {
  if (pending === null) return '-';
  const { backfill, switchFrom } = pending;
  if (backfill === null) return `v${pending.version} planned`;
  const days = `${backfill.daysDone}/${backfill.daysTotal} days`;
  if (backfill.daysDone < backfill.daysTotal) return `v${pending.version} ${days}`;
  return `v${pending.version} ${days}, awaits speed ${switchFrom === null ? '(not counted yet)' : `until ${iso(switchFrom)}`}`;
}

export const status = (program: Command): Command =>
  program
    .command('status')
    .description(
      'each view: watermark, last batch run, speed lag, lateness, settle time and the sketch bound of its distinct measures',
    )
    .action(async (_options: object, command: Command) => {
      const api = apiOf(command);
      const { views } = await api.views();
      // The address asked: the local runtime's may differ from the default (a free port).
      console.log(`API ${api.base}`);
      printTable(
        views.map((view) => ({
          view: view.name,
          version: view.version,
          // A new definition backfilling while `version` is served: its days loaded, or that it awaits speed.
          pending: pendingText(view.pending),
          bucket: view.bucket,
          groupBy: view.groupBy.join(','),
          watermark: iso(view.watermark),
          lastBatchRun: view.batchRun?.id ?? '-',
          committed: iso(view.batchRun?.committedAt),
          latestSpeedBucket: iso(view.speed.latestBucket),
          // Over the last `lateness.windowDays`: how late 99% arrived, and the share restated after exact.
          lateP99: view.lateness.events === 0 ? '-' : durationText(view.lateness.p99Ms),
          lateAfterExact: `${(view.lateness.lateAfterExactShare * 100).toFixed(2)}%`,
          settle: `${view.settle.mode} ${durationText(view.settle.ms)}`,
          // Distinct measures: exact below the watermark, HyperLogLog estimates within this bound from it.
          sketchBound:
            view.distinct === null
              ? '-'
              : `max(±${(view.distinct.errorBound * 100).toFixed(1)}%,±${view.distinct.errorSlack})`,
        })),
      );
      // Why a manifest's version cannot be served, when it cannot (alarmed too).
      for (const view of views)
        if (view.servingProblem !== null) console.log(`${view.name}: ${view.servingProblem}`);
    });
