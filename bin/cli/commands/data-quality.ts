import type { Command } from 'commander';
import { printTable } from '../output';
import { parseCount } from '../parse';
import { apiOf } from '../program';

export const dataQuality = (program: Command): Command =>
  program
    .command('data-quality')
    .description('ids whose copies lie further apart than the dedupe horizon: counted once each, per run')
    .option('--limit <n>', 'reports', parseCount, 5)
    .action(async (options: { limit: number }, command: Command) => {
      const { reports } = await apiOf(command).dataQuality(options.limit);
      printTable(
        reports.flatMap((report) =>
          report.error !== null
            ? [{ run: report.runId, id: '', days: `not checked: ${report.error}` }]
            : report.listed.map((entry) => ({
                run: report.runId,
                id: entry.id,
                days: `${entry.days.join(' ')}${entry.dayCount > entry.days.length ? ` (+${entry.dayCount - entry.days.length})` : ''}`,
              })),
        ),
      );
    });
