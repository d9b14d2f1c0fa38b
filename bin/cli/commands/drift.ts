import type { Command } from 'commander';
import { iso, printTable } from '../output';
import { parseCount } from '../parse';
import { apiOf } from '../program';

export const drift = (program: Command): Command =>
  program
    .command('drift')
    .description('the latest drift reports: speed vs batch on the buckets each run settled')
    .option('--limit <n>', 'reports per view', parseCount, 5)
    .action(async (options: { limit: number }, command: Command) => {
      const { views } = await apiOf(command).drift(options.limit);
      printTable(
        views.flatMap((view) =>
          view.reports.map((report) => ({
            view: view.view,
            run: report.runId,
            from: iso(report.from),
            to: iso(report.to),
            rowsCompared: report.rowsCompared,
            rowsDiffering: report.rowsDiffering,
            driftRatio: report.driftRatio,
          })),
        ),
      );
      // Distinct measures: the speed layer's estimates against the exact counts, expected to differ a little.
      const sketchLines = views.flatMap((view) =>
        view.reports.flatMap((report) =>
          Object.entries(report.sketchError ?? {}).map(([measure, error]) => ({
            view: view.view,
            run: report.runId,
            measure,
            rowsCompared: error.rowsCompared,
            meanError: percent(error.meanRelativeError),
            largestError: error.largest === null ? '-' : percent(error.largest.relativeError),
            largestAt:
              error.largest === null
                ? '-'
                : `${iso(error.largest.bucket)} ${error.largest.group.join(',')} ${error.largest.estimate} vs ${error.largest.exact}`,
            bound: `max(±${percent(error.errorBound)},±${error.errorSlack})`,
            overBound: error.rowsOverBound,
          })),
        ),
      );
      if (sketchLines.length === 0) return;
      console.log('\nsketch error (distinct measures: HyperLogLog estimates vs exact counts, not drift)');
      printTable(sketchLines);
    });

/** A relative error as a percentage, two decimals. */
const percent = (ratio: number): string => `${(ratio * 100).toFixed(2)}%`;
