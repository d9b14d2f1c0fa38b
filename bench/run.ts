import { Command } from 'commander';
import { benchBatch } from './batch';
import { benchSpeed } from './speed';

// Handlers publish metrics per batch; a benchmark measures their work, not stdout.
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const program = new Command('bench').description(
  'driftless benchmarks: each prints JSON lines, the last one the summary',
);

program
  .command('speed')
  .description('speed handler compute vs decode-bound floor, and DynamoDB writes per event')
  .option('--batches <n>', 'batches to process', '200')
  .option('--batch-size <n>', 'records per batch', '1000')
  .option('--groups <n>', 'distinct groups per batch', '50')
  .option('--rounds <n>', 'alternating rounds of floor and handler; medians are reported', '5')
  .action(async (options: { batches: string; batchSize: string; groups: string; rounds: string }) => {
    await benchSpeed({
      batches: Number(options.batches),
      batchSize: Number(options.batchSize),
      groups: Number(options.groups),
      rounds: Number(options.rounds),
    });
  });

program
  .command('batch')
  .description('a full local batch run over N archived events, then the incremental run after one late event')
  .option('--events <n>', 'events in the archive', '10000000')
  .option('--days <n>', 'event-time days they span', '7')
  .option('--data-dir <dir>', 'scratch archive folder (deleted first)', '.driftless/bench-batch')
  .action(async (options: { events: string; days: string; dataDir: string }) => {
    await benchBatch({
      events: Number(options.events),
      days: Number(options.days),
      dataDir: options.dataDir,
    });
  });

await program.parseAsync(process.argv);
