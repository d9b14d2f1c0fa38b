import { setTimeout as sleep } from 'node:timers/promises';
import { type Command, Option } from 'commander';
import { RESPONSE_SCHEMAS } from '../../../functions/api/schemas';
import type { DriftlessApi, ExportRequest } from '../client';
import { CliError } from '../errors';
import { iso, progress } from '../output';
import { type Instant, instantOption } from '../parse';
import { apiOf } from '../program';

interface ExportOptions {
  readonly from: Instant;
  readonly to?: Instant;
  readonly format: ExportRequest['format'];
}

export const exportView = (program: Command): Command =>
  program
    .command('export')
    .argument('<view>', 'the view to export')
    .description('an exact export (buckets below the watermark) to CSV or Parquet; prints the download URLs')
    .addOption(instantOption('--from <time>', 'now, -2h, epoch ms or ISO 8601', '-1d'))
    .addOption(instantOption('--to <time>', "as --from (default: the view's watermark)"))
    .addOption(
      new Option('--format <format>', 'the file format')
        .choices(RESPONSE_SCHEMAS.Export.shape.format.options)
        .default('csv'),
    )
    .action(async (view: string, options: ExportOptions, command: Command) => {
      const api = apiOf(command);
      const now = Date.now();
      const from = options.from(now);
      const to = options.to === undefined ? await watermarkOf(api, view) : options.to(now);
      const { id } = await api.startExport({ view, from, to, format: options.format });
      const shown = progress();
      for (;;) {
        const job = await api.exportJob(id);
        if (job.status === 'FAILED') throw new CliError(`export ${id} failed: ${job.error}`);
        if (job.status === 'SUCCEEDED') {
          shown.done(
            `export ${id}: ${job.rows} ${job.rows === 1 ? 'row' : 'rows'} of ${view} from ${iso(job.from)} to ${iso(job.to)}`,
          );
          for (const url of job.downloads) console.log(url);
          return;
        }
        shown.update(`export ${id}: ${job.status}`);
        await sleep(300);
      }
    });

/** Where an export without --to ends: the view's watermark, below which every bucket is exact. */
async function watermarkOf(api: DriftlessApi, view: string): Promise<number> {
  const summary = await api.view(view);
  if (!summary.watermark) throw new CliError(`${view} has no batch run yet: run \`driftless batch run\``);
  return summary.watermark;
}
