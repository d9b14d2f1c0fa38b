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
    });
