import type { Command } from 'commander';
import { iso, printTable } from '../output';
import { apiOf } from '../program';

export const status = (program: Command): Command =>
  program
    .command('status')
    .description('each view: watermark, last batch run, speed lag')
    .action(async (_options: object, command: Command) => {
      const api = apiOf(command);
      const { views } = await api.views();
      // The address asked: the local runtime's may differ from the default (a free port).
      console.log(`API ${api.base}`);
      printTable(
        views.map((view) => ({
          view: view.name,
          version: view.version,
          bucket: view.bucket,
          groupBy: view.groupBy.join(','),
          watermark: iso(view.watermark),
          lastBatchRun: view.batchRun?.id ?? '-',
          committed: iso(view.batchRun?.committedAt),
          latestSpeedBucket: iso(view.speed.latestBucket),
        })),
      );
    });
