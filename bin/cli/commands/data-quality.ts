import type { Command } from 'commander';
import { printTable } from '../output';
import { parseCount } from '../parse';
import { apiOf } from '../program';

export const dataQuality = (program: Command): Command =>
  program
    .command('data-quality')
    .description(
      'ids whose copies lie further apart than their catalog’s dedupe horizon: counted once each, per run and catalog',
    )
    .option('--type <catalog>', 'one event catalog only (default: every catalog)')
    .option(
      '--limit <n>',
      'reports per catalog (default: the API’s, 5 or fewer over many catalogs)',
      parseCount,
    )
    .action(async (options: { type?: string; limit?: number }, command: Command) => {
      const { catalogs } = await apiOf(command).dataQuality(options);
      // A row per report even without ids: it says the catalog's days were checked, over which horizon.
      printTable(
        catalogs.flatMap(({ catalog, reports }) =>
          reports.flatMap((report) => {
            const of = { catalog, run: report.runId, horizonDays: report.horizonDays, ids: report.ids };
            if (report.error !== null) return [{ ...of, id: '', days: `not checked: ${report.error}` }];
            if (report.listed.length === 0) return [{ ...of, id: '', days: '' }];
            return report.listed.map((entry) => ({
              ...of,
              id: entry.id,
              days: `${entry.days.join(' ')}${entry.dayCount > entry.days.length ? ` (+${entry.dayCount - entry.days.length})` : ''}`,
            }));
          }),
        ),
      );
    });
