import type { Command } from 'commander';
import { printBatchRun, waitForBatchRun } from '../batch-run';
import { apiOf } from '../program';

export const batch = (program: Command): Command =>
  program
    .command('batch')
    .description('batch runs')
    .command('run')
    .description('start a batch run, wait for it, and print the watermarks and drift')
    .action(async (_options: object, command: Command) => {
      const api = apiOf(command);
      const { id } = await api.startBatchRun();
      printBatchRun(await waitForBatchRun(api, id));
    });
