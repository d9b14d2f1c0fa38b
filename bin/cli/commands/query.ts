import { type Command, Option } from 'commander';
import { RESPONSE_SCHEMAS, type ResponseOf } from '../../../functions/api/schemas';
import { iso, printTable } from '../output';
import { collectFilter, type Instant, instantOption } from '../parse';
import { apiOf } from '../program';

interface QueryOptions {
  readonly from: Instant;
  readonly to: Instant;
  readonly step?: ResponseOf<'Series'>['step'];
  /** Absent when no `-g` is given: no default, so that `--help` prints none. */
  readonly group?: Record<string, string>;
  readonly exact?: boolean;
  readonly json?: boolean;
}

export const query = (program: Command): Command =>
  program
    .command('query')
    .argument('<view>', 'the view to read')
    .description('a merged series: batch below the watermark, speed from it')
    .addOption(instantOption('--from <time>', 'now, -2h, epoch ms or ISO 8601', '-6h'))
    .addOption(instantOption('--to <time>', 'as --from', 'now'))
    .addOption(
      new Option('--step <step>', "the bucket width (default: the view's bucket)").choices(
        RESPONSE_SCHEMAS.Series.shape.step.options,
      ),
    )
    .option('-g, --group <field=value>', 'only this group (repeatable)', collectFilter)
    .option('--exact', 'batch buckets only')
    .option('--json', 'print the API answer as JSON')
    .action(async (view: string, options: QueryOptions, command: Command) => {
      const now = Date.now();
      const series = await apiOf(command).series(
        view,
        new URLSearchParams({
          from: String(options.from(now)),
          // The API's `to` is exclusive: `--to now` includes now.
          to: String(options.to(now) + 1),
          ...(options.step ? { step: options.step } : {}),
          ...(options.exact ? { exact: 'true' } : {}),
          ...options.group,
        }),
      );
      if (options.json) {
        console.log(JSON.stringify(series, null, 2));
        return;
      }
      console.log(
        `${series.view} v${series.version} by ${series.step}; watermark ${iso(series.watermark)} ` +
          `(batch below it, speed from it)`,
      );
      printTable(
        series.buckets.flatMap((bucket) =>
          bucket.groups.map((group) => ({
            bucket: iso(bucket.start),
            source: bucket.source,
            // A view with a distinct measure: its values here are exact counts or HyperLogLog estimates.
            ...(bucket.distinct === undefined ? {} : { distinct: bucket.distinct }),
            ...group.key,
            ...group.values,
          })),
        ),
      );
    });
