import { Command } from 'commander';
import { benchBatch } from './batch';
import { benchCost } from './cost';
import { benchFreshness } from './freshness';
import { benchServe } from './serve';
import { benchSoak } from './soak';
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
  .option(
    '--page-view-share <share>',
    "page views among the events, as the demo's mix (0: orders only)",
    '0.75',
  )
  .action(
    async (options: {
      batches: string;
      batchSize: string;
      groups: string;
      rounds: string;
      pageViewShare: string;
    }) => {
      await benchSpeed({
        batches: Number(options.batches),
        batchSize: Number(options.batchSize),
        groups: Number(options.groups),
        rounds: Number(options.rounds),
        pageViewShare: Number(options.pageViewShare),
      });
    },
  );

program
  .command('batch')
  .description('a full local batch run over N archived events, then the incremental run after one late event')
  .option('--events <n>', 'events in the archive', '10000000')
  .option('--days <n>', 'event-time days they span', '7')
  .option(
    '--events-per-day <n>',
    'events per day instead of --events: the same late day, whatever the history (e.g. --days 365)',
  )
  .option('--data-dir <dir>', 'scratch archive folder (deleted first)', '.driftless/bench-batch')
  .action(async (options: { events: string; days: string; eventsPerDay?: string; dataDir: string }) => {
    const days = Number(options.days);
    await benchBatch({
      events:
        options.eventsPerDay === undefined ? Number(options.events) : Number(options.eventsPerDay) * days,
      days,
      dataDir: options.dataDir,
    });
  });

program
  .command('serve')
  .description(
    'the local API over dynalite: concurrent clients asking for an hourly series; latency percentiles',
  )
  .option('--days <n>', 'days of seeded data', '30')
  .option('--groups <n>', 'groups per hour', '20')
  .option('--clients <n>', 'concurrent clients, each asking back to back', '50')
  .option('--seconds <n>', 'how long the clients ask, measured', '10')
  .option('--warmup <n>', 'seconds the clients ask before that, unmeasured', '2')
  .option('--series-days <n>', 'days the series covers', '7')
  .option('--step <width>', 'the series step: hour or day', 'hour')
  .option('--data-dir <dir>', 'scratch data folder (deleted first)', '.driftless/bench-serve')
  .action(
    async (options: {
      days: string;
      groups: string;
      clients: string;
      seconds: string;
      warmup: string;
      seriesDays: string;
      step: string;
      dataDir: string;
    }) => {
      await benchServe({
        days: Number(options.days),
        groups: Number(options.groups),
        clients: Number(options.clients),
        seconds: Number(options.seconds),
        warmupSeconds: Number(options.warmup),
        seriesDays: Number(options.seriesDays),
        step: options.step,
        dataDir: options.dataDir,
      });
    },
  );

program
  .command('freshness')
  .description(
    'the local runtime: delay from POST /events until the event shows in the series, per batching window',
  )
  .option('--windows <seconds>', "the speed mapping's batching windows to measure, comma-separated", '1')
  .option('--events <n>', 'events timed per window', '60')
  .option('--interval-ms <n>', 'between posts', '200')
  .option('--poll-ms <n>', 'between series requests', '20')
  .option('--data-dir <dir>', 'scratch data folder (deleted first)', '.driftless/bench-freshness')
  .action(
    async (options: {
      windows: string;
      events: string;
      intervalMs: string;
      pollMs: string;
      dataDir: string;
    }) => {
      await benchFreshness({
        batchingWindowsSeconds: options.windows.split(',').map(Number),
        events: Number(options.events),
        intervalMs: Number(options.intervalMs),
        pollMs: Number(options.pollMs),
        dataDir: options.dataDir,
      });
    },
  );

program
  .command('soak')
  .description('N events through the local runtime, then a batch run: accepted = archived = batch-counted')
  .option('--events <n>', 'events posted', '1000000')
  .option('--concurrency <n>', 'POST /events requests in flight', '4')
  .option('--data-dir <dir>', 'scratch data folder (deleted first)', '.driftless/bench-soak')
  .action(async (options: { events: string; concurrency: string; dataDir: string }) => {
    await benchSoak({
      events: Number(options.events),
      concurrency: Number(options.concurrency),
      dataDir: options.dataDir,
    });
  });

program
  .command('cost')
  .description(
    'the monthly AWS bill per configuration (capacity, window), measured in this run; last: the cheapest with freshness p99 < 5 s',
  )
  .option('--events-per-sec <n>', 'events a second', '1000')
  .option('--event-bytes <n>', 'bytes of one event', '200')
  .option('--windows <seconds>', 'batching windows to try, comma-separated', '0,1,2,3,4')
  .option('--freshness-events <n>', 'events timed through the local pipeline per window', '60')
  .option('--batch-schedule <expression>', 'when the batch layer runs', 'rate(1 hour)')
  .option('--data-dir <dir>', 'scratch data folder (deleted first)', '.driftless/bench-cost')
  .action(
    async (options: {
      eventsPerSec: string;
      eventBytes: string;
      windows: string;
      freshnessEvents: string;
      batchSchedule: string;
      dataDir: string;
    }) => {
      await benchCost({
        eventsPerSec: Number(options.eventsPerSec),
        eventBytes: Number(options.eventBytes),
        windowsSeconds: options.windows.split(',').map(Number),
        freshnessEvents: Number(options.freshnessEvents),
        batchSchedule: options.batchSchedule,
        dataDir: options.dataDir,
      });
    },
  );

await program.parseAsync(process.argv);
