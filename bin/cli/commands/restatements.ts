import type { Command } from 'commander';
import { MAX_RESTATEMENTS_PAGE } from '../../../functions/api/limits';
import { iso, printTable } from '../output';
import { type Instant, instantOption, parseCount } from '../parse';
import { apiOf } from '../program';

interface RestatementsOptions {
  readonly since?: Instant;
  readonly from?: Instant;
  readonly to?: Instant;
  readonly limit: number;
  readonly json?: boolean;
}

/** A measure value or its absence, as a table cell. */
const cell = (value: number | string | null) => (value === null ? '-' : String(value));

export const restatements = (program: Command): Command =>
  program
    .command('restatements')
    .argument('<view>', 'the view whose ledger to list')
    .description('exact values that commits and rollbacks changed: old -> new, with the run and the cause')
    .addOption(
      instantOption(
        '--since <time>',
        'changes recorded from (now, -2h, epoch ms, ISO 8601; the API: the last 7 days)',
      ),
    )
    .addOption(instantOption('--from <time>', 'only buckets from this time'))
    .addOption(instantOption('--to <time>', 'only buckets before this time'))
    .option('--limit <n>', 'at most this many (pages through the API)', parseCount, 100)
    .option('--json', 'print the entries as JSON')
    .action(async (view: string, options: RestatementsOptions, command: Command) => {
      const api = apiOf(command);
      const now = Date.now();
      const base = {
        ...(options.since ? { since: String(options.since(now)) } : {}),
        ...(options.from ? { from: String(options.from(now)) } : {}),
        ...(options.to ? { to: String(options.to(now)) } : {}),
      };
      const entries = [];
      let cursor: string | null = null;
      do {
        const page = await api.restatements(
          view,
          new URLSearchParams({
            ...base,
            limit: String(Math.min(MAX_RESTATEMENTS_PAGE, Math.max(1, options.limit - entries.length))),
            ...(cursor === null ? {} : { cursor }),
          }),
        );
        entries.push(...page.restatements);
        cursor = page.cursor;
      } while (cursor !== null && entries.length < options.limit);
      const shown = entries.slice(0, options.limit);
      if (options.json) {
        console.log(JSON.stringify(shown, null, 2));
        return;
      }
      if (shown.length === 0) {
        console.log(`no restatements of ${view} recorded in that time`);
        return;
      }
      printTable(
        shown.map((entry) => ({
          bucket: iso(entry.bucket),
          group: Object.entries(entry.group)
            .map(([field, value]) => `${field}=${value ?? 'null'}`)
            .join(' '),
          measure: entry.measure,
          change: `${cell(entry.old)} -> ${cell(entry.new)}`,
          cause: entry.cause,
          run: entry.runId,
        })),
      );
      if (cursor !== null) console.log(`(more: raise --limit above ${options.limit})`);
    });
