import { rm } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { Logger } from '@aws-lambda-powertools/logger';
import { BUCKET_WIDTH_MS } from '../functions/core';
import { startRuntime } from '../local/runtime';

export interface ServeBenchOptions {
  readonly days: number;
  readonly groups: number;
  readonly clients: number;
  readonly seconds: number;
  readonly seriesDays: number;
  readonly step: string;
  readonly dataDir: string;
}

const HOUR = BUCKET_WIDTH_MS.hour;
const print = (line: object) => console.log(JSON.stringify(line));

/** `clients` closed-loop clients asking `url` back to back for `seconds`; posts each latency. */
const CLIENTS = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, clients, seconds } = workerData;
const latencies = [];
const deadline = performance.now() + seconds * 1000;
async function client() {
  while (performance.now() < deadline) {
    const started = performance.now();
    const response = await fetch(url);
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error('series answered ' + response.status);
    latencies.push(performance.now() - started);
  }
}
const started = performance.now();
Promise.all(Array.from({ length: clients }, client)).then(() =>
  parentPort.postMessage({ latencies, elapsed: (performance.now() - started) / 1000 }),
);
`;

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;

/**
 * The local API over dynalite, seeded through the pipeline itself (events posted to the API, counted by
 * the speed layer, archived, then one batch run): `days` x 24 hours x `groups` of the revenue view. Then
 * `clients` concurrent clients ask for a `seriesDays`-day hourly series, back to back, for `seconds`.
 */
export async function benchServe(options: ServeBenchOptions): Promise<void> {
  await rm(options.dataDir, { recursive: true, force: true });
  const now = Date.now();
  // The watermark trails now by six hours: the series is mostly batch, with a speed tail.
  const runtime = await startRuntime({
    dataDir: options.dataDir,
    port: 0,
    batchEveryMs: 0,
    settleMs: 6 * HOUR,
    // DynamoDB is measured as a service: in memory, as dynalite answers fastest, not on this disk.
    emulatorsInMemory: true,
    logger: new Logger({ logLevel: 'ERROR' }),
  });
  try {
    const firstHour = now - (now % HOUR) - (options.days * 24 - 1) * HOUR;
    const events = [];
    for (let hour = 0; hour < options.days * 24; hour++)
      for (let group = 0; group < options.groups; group++)
        events.push({
          id: `e-${hour}-${group}`,
          ts: Math.min(now, firstHour + hour * HOUR + group * 1_000),
          country: `C${String(group).padStart(2, '0')}`,
          amount: 1_000 + group,
          status: 'paid',
        });
    for (let offset = 0; offset < events.length; offset += 500) {
      const response = await fetch(`${runtime.apiUrl}/events`, {
        method: 'POST',
        body: JSON.stringify(events.slice(offset, offset + 500)),
      });
      if (response.status !== 202) throw new Error(`seeding: POST /events answered ${response.status}`);
    }
    const consumed = () =>
      runtime.speedConsumer.stats.records >= events.length &&
      runtime.archiveConsumer.stats.records >= events.length;
    while (!consumed()) await new Promise((resolve) => setTimeout(resolve, 50));
    const runId = await runtime.startBatchRun();
    for (;;) {
      const run = await runtime.batchRunner.describe(runId);
      if (run?.status === 'FAILED') throw new Error(`seeding: batch run failed: ${run.error}`);
      if (run?.status === 'SUCCEEDED') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    print({ phase: 'seeded', events: events.length, runId });

    let dynamoRequests = 0;
    runtime.emulators.dynamo.middlewareStack.add(
      (next) => async (args) => {
        dynamoRequests++;
        return next(args);
      },
      { step: 'initialize', name: 'countRequests' },
    );
    const to = now - (now % HOUR) + HOUR;
    const url = `${runtime.apiUrl}/views/revenue/series?from=${to - options.seriesDays * 24 * HOUR}&to=${to}&step=${options.step}`;
    const check = (await (await fetch(url)).json()) as { buckets: { groups: unknown[] }[] };
    const groupsServed = check.buckets.reduce((sum, bucket) => sum + bucket.groups.length, 0);
    dynamoRequests = 0;
    // The clients run on a worker thread, as they would on other machines: the API's thread serves only.
    const worker = new Worker(CLIENTS, {
      eval: true,
      workerData: { url, clients: options.clients, seconds: options.seconds },
    });
    const { latencies, elapsed } = (await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    })) as { latencies: number[]; elapsed: number };
    await worker.terminate();
    latencies.sort((a, b) => a - b);
    const round = (value: number) => Math.round(value * 100) / 100;
    print({
      bench: 'serve',
      days: options.days,
      groups: options.groups,
      clients: options.clients,
      seconds: options.seconds,
      step: options.step,
      seriesBuckets: check.buckets.length,
      seriesGroups: groupsServed,
      requests: latencies.length,
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      requestsPerSec: round(latencies.length / elapsed),
      dynamoRequestsPerCall: round(dynamoRequests / latencies.length),
    });
  } finally {
    await runtime.stop();
  }
}
