import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import {
  CAPACITY_MODES,
  type Capacity,
  costSummary,
  DEFAULT_WORKLOAD,
  FIREHOSE_BILLING_UNITS,
  type FirehoseBillingUnit,
  type Freshness,
  monthlyCost,
  SERVICES,
  type Workload,
  WorkloadError,
} from '../../../cost/model';
import { PRICED_REGION } from '../../../cost/prices';
import { DEMO_VIEWS } from '../../../cost/views';
import type { ViewDefinition } from '../../../functions/core';
import { CliError } from '../errors';
import { printTable } from '../output';
import {
  parseBatchingWindow,
  parseBatchSchedule,
  parseCount,
  parseDuration,
  parsePositive,
  parsePositiveCount,
  parseRegion,
  parseViewShapes,
} from '../parse';

interface CostOptions {
  readonly eventsPerSec: number;
  readonly eventBytes: number;
  readonly views: readonly ViewDefinition[];
  readonly capacity: Capacity;
  readonly shards?: number;
  readonly window: number;
  readonly batchSchedule: string;
  readonly dashboards: number;
  readonly archiveDays: number;
  readonly producerFlush: number;
  readonly firehoseBilledPer: FirehoseBillingUnit;
  readonly region: string;
  readonly measureFreshness?: boolean;
  readonly json?: boolean;
}

const usd = (value: number) => value.toFixed(2);

export const cost = (program: Command): Command =>
  program
    .command('cost')
    .description(
      "a deployment's monthly AWS bill per service, from figures measured now, beside the naive way's",
    )
    .option('--events-per-sec <n>', 'events a second, steady', parsePositive, DEFAULT_WORKLOAD.eventsPerSec)
    .option(
      '--event-bytes <n>',
      'bytes of one event (its JSON)',
      parsePositiveCount,
      DEFAULT_WORKLOAD.eventBytes,
    )
    .addOption(
      new Option('--views <shapes>', "'demo' (views.ts) or shapes: hour:country,minute:status+product")
        .argParser(parseViewShapes)
        .default(parseViewShapes(DEMO_VIEWS), DEMO_VIEWS),
    )
    .addOption(
      new Option('--capacity <mode>', "the stream's capacity mode")
        .choices(CAPACITY_MODES)
        .default(DEFAULT_WORKLOAD.capacity),
    )
    .option(
      '--shards <n>',
      "a provisioned stream's shards (default: enough for the rate)",
      parsePositiveCount,
    )
    .addOption(
      new Option('--window <duration>', "the speed mapping's batching window")
        .argParser(parseBatchingWindow)
        .default(DEFAULT_WORKLOAD.batchingWindowSeconds, `${DEFAULT_WORKLOAD.batchingWindowSeconds}s`),
    )
    .option(
      '--batch-schedule <expression>',
      'rate(N unit) or a daily cron',
      parseBatchSchedule,
      DEFAULT_WORKLOAD.batchSchedule,
    )
    .option(
      '--dashboards <n>',
      'dashboard pages open all month (each refreshes every 5 s)',
      parseCount,
      DEFAULT_WORKLOAD.dashboards,
    )
    .option(
      '--archive-days <n>',
      'days of archive kept (the naive way recomputes them all)',
      parsePositiveCount,
      DEFAULT_WORKLOAD.archiveDays,
    )
    .addOption(
      new Option(
        '--producer-flush <duration>',
        'how long producers gather events before they pack and put them',
      )
        .argParser(parseDuration)
        .default(
          DEFAULT_WORKLOAD.producerFlushSeconds * 1000,
          `${DEFAULT_WORKLOAD.producerFlushSeconds * 1000}ms`,
        ),
    )
    .addOption(
      new Option(
        '--firehose-billed-per <unit>',
        "what Firehose's 5 KB rounding applies to (AWS does not say)",
      )
        .choices(FIREHOSE_BILLING_UNITS)
        .default(DEFAULT_WORKLOAD.firehoseBilledPer),
    )
    .option('--region <region>', `the region priced (only ${PRICED_REGION})`, parseRegion, PRICED_REGION)
    .option('--measure-freshness', 'measure freshness on the local pipeline at this window (about 20 s more)')
    .option('--json', 'print the report as JSON')
    .action(async (options: CostOptions) => {
      if (options.shards !== undefined && options.capacity !== 'provisioned')
        throw new CliError('--shards is for --capacity provisioned: an on-demand stream has no shard count');
      const workload: Workload = {
        ...DEFAULT_WORKLOAD,
        eventsPerSec: options.eventsPerSec,
        eventBytes: options.eventBytes,
        capacity: options.capacity,
        ...(options.shards === undefined ? {} : { shards: options.shards }),
        batchingWindowSeconds: options.window,
        batchSchedule: options.batchSchedule,
        dashboards: options.dashboards,
        archiveDays: options.archiveDays,
        producerFlushSeconds: options.producerFlush / 1000,
        firehoseBilledPer: options.firehoseBilledPer,
      };
      let report: ReturnType<typeof monthlyCost>;
      // Loaded here: the measurement pulls in the speed and batch code, a second of start-up that no
      // other command should pay.
      const { measureCost } = await import('../../../cost/measure');
      try {
        report = monthlyCost(workload, await measureCost(workload, { views: options.views }));
      } catch (error) {
        if (error instanceof WorkloadError)
          throw new CliError(`${error.message}: pass --shards or another --capacity`);
        throw error;
      }
      const freshness: Freshness = options.measureFreshness
        ? await measuredFreshness(workload.batchingWindowSeconds)
        : {
            p99Ms: report.freshnessEstimateP99Ms,
            source: "estimate: producer flush + Lambda's 1 s poll + batching window + measured handler time",
          };
      const summary = costSummary(report, freshness);
      if (options.json) {
        console.log(
          JSON.stringify(
            { ...summary, plan: report.plan, naivePlan: report.naivePlan, assumptions: report.assumptions },
            null,
            2,
          ),
        );
        return;
      }
      const { plan } = report;
      console.log(
        `${workload.eventsPerSec} events/s of ${workload.eventBytes} bytes, ${report.views} views ` +
          `(${options.views.map((view) => view.name).join(', ')}); ${workload.capacity} stream of ${plan.shards} ` +
          `shard${plan.shards === 1 ? '' : 's'}, ` +
          `window ${workload.batchingWindowSeconds}s, batch ${workload.batchSchedule}, ${workload.dashboards} dashboard(s)`,
      );
      printTable([
        ...SERVICES.map((service) => ({
          service,
          'ours USD/month': usd(report.ours.services[service]),
          'naive USD/month': usd(report.naive.services[service]),
        })),
        {
          service: 'total',
          'ours USD/month': usd(report.ours.totalUsd),
          'naive USD/month': usd(report.naive.totalUsd),
        },
      ]);
      console.log(`freshness p99 ${freshness.p99Ms} ms (${freshness.source})`);
      console.log(
        "athena: bytes scanned modelled from the plan's day rule and the archive's gzipped bytes a day " +
          '(no batch run here; `npm run bench -- cost` takes them from a batch run)',
      );
      console.log(
        `prices: ${report.region}, read on ${report.pricesReadOn} (cost/prices.ts names each page)`,
      );
      console.log('assumptions:');
      for (const assumption of report.assumptions) console.log(`  - ${assumption}`);
    });

/** Freshness p99 on the local pipeline at this batching window (bench/freshness.ts), in a scratch folder. */
async function measuredFreshness(batchingWindowSeconds: number): Promise<Freshness> {
  const { measureFreshness } = await import('../../../bench/freshness');
  const dataDir = await mkdtemp(join(tmpdir(), 'driftless-cost-'));
  try {
    const measured = await measureFreshness({ batchingWindowSeconds, events: 60, dataDir });
    return { p99Ms: measured.p99Ms, source: `measured on the local pipeline over ${measured.events} events` };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
