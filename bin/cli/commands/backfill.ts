import type { Command } from 'commander';
import { printBatchRun, waitForBatchRun } from '../batch-run';
import { apiOf } from '../program';

export const backfill = (program: Command): Command =>
  program
    .command('backfill')
    .argument('<view...>', 'the views to recompute')
    .description("recompute a view's whole history (after its definition changed), and wait")
    .action(async (views: string[], _options: object, command: Command) => {
      const api = apiOf(command);
      const { id } = await api.startBatchRun(views);
      printBatchRun(await waitForBatchRun(api, id));
    });
