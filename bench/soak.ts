import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Logger } from '@aws-lambda-powertools/logger';
import { BUCKET_WIDTH_MS } from '../functions/core';
import { generateOrders } from '../local/demo';
import { startRuntime } from '../local/runtime';

export interface SoakBenchOptions {
  readonly events: number;
  /** POST /events requests in flight. */
  readonly concurrency: number;
  readonly dataDir: string;
}

const HOUR = BUCKET_WIDTH_MS.hour;
const MINUTE = BUCKET_WIDTH_MS.minute;
const EVENTS_PER_POST = 500;
const print = (line: object) => console.log(JSON.stringify(line));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Lines in every archived object: what the local Firehose stand-in delivered. */
async function archivedLines(archiveDir: string): Promise<number> {
  let lines = 0;
  const files = await readdir(join(archiveDir, 'events'), { recursive: true }).catch(() => []);
  for (const file of files) {
    if (!file.endsWith('.json.gz')) continue;
    const text = gunzipSync(await readFile(join(archiveDir, 'events', file)));
    for (const byte of text) if (byte === 10) lines++;
  }
  return lines;
}

/**
 * N events through the whole local pipeline: posted to the API (500 a request), consumed by the speed
 * layer and the archiver, then one batch run. The events' times lie in the two hours before the bench
 * starts, in order, so every one is below the watermark the run commits. What the API accepted, what
 * the archive holds and what the batch view counts must be the same number.
 */
export async function benchSoak(options: SoakBenchOptions): Promise<void> {
  await rm(options.dataDir, { recursive: true, force: true });
  const runtime = await startRuntime({
    dataDir: options.dataDir,
    port: 0,
    batchEveryMs: 0,
    settleMs: 0,
    logger: new Logger({ logLevel: 'ERROR' }),
  });
  try {
    const started = Date.now();
    const end = started - (started % MINUTE);
    const span = 2 * HOUR;
    const orders = generateOrders({
      seed: 42,
      idPrefix: 'soak',
      time: (index) => end - span + Math.floor((index * span) / options.events),
    });
    let accepted = 0;
    let posted = 0;
    let nextReport = 0;
    const poster = async () => {
      while (posted < options.events) {
        const count = Math.min(EVENTS_PER_POST, options.events - posted);
        posted += count;
        const batch = Array.from({ length: count }, () => orders.next().value?.event);
        const response = await fetch(`${runtime.apiUrl}/events`, {
          method: 'POST',
          headers: { 'x-api-key': runtime.apiKey },
          body: JSON.stringify(batch),
        });
        const answer = (await response.json()) as { accepted: number };
        if (response.status !== 202) throw new Error(`POST /events answered ${response.status}`);
        accepted += answer.accepted;
        if (accepted >= nextReport) {
          nextReport += options.events / 20;
          print({
            phase: 'posting',
            accepted,
            perSec: Math.round(accepted / ((Date.now() - started) / 1000)),
            speedConsumed: runtime.speedConsumer.stats.records,
            archiveConsumed: runtime.archiveConsumer.stats.records,
          });
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, poster));
    const postedAt = Date.now();

    let lastReport = 0;
    while (
      runtime.speedConsumer.stats.records < accepted ||
      runtime.archiveConsumer.stats.records < accepted
    ) {
      if (Date.now() - lastReport > 5_000) {
        lastReport = Date.now();
        print({
          phase: 'consuming',
          speedConsumed: runtime.speedConsumer.stats.records,
          archiveConsumed: runtime.archiveConsumer.stats.records,
          of: accepted,
        });
      }
      await sleep(100);
    }
    const consumedAt = Date.now();

    const runId = await runtime.startBatchRun();
    for (;;) {
      const run = await runtime.batchRunner.describe(runId);
      if (run?.status === 'FAILED') throw new Error(`batch run failed: ${run.error}`);
      if (run?.status === 'SUCCEEDED') break;
      await sleep(200);
    }
    const batchedAt = Date.now();
    const series = (await (
      await fetch(
        `${runtime.apiUrl}/views/orders_per_minute/series?from=${end - span}&to=${end}&step=minute&exact=true`,
        { headers: { 'x-api-key': runtime.apiKey } },
      )
    ).json()) as { watermark: number; buckets: { groups: { values: { orders: number | string } }[] }[] };
    if (series.watermark < end) throw new Error(`the watermark ${series.watermark} is below the events' end`);
    let batchCounted = 0;
    for (const bucket of series.buckets)
      for (const group of bucket.groups) batchCounted += Number(group.values.orders);
    const archived = await archivedLines(runtime.archiveDir);
    const seconds = (to: number, from: number) => Math.round((to - from) / 100) / 10;
    print({
      bench: 'soak',
      events: options.events,
      accepted,
      archived,
      batchCounted,
      equal: accepted === archived && archived === batchCounted,
      postSeconds: seconds(postedAt, started),
      drainSeconds: seconds(consumedAt, postedAt),
      batchRunSeconds: seconds(batchedAt, consumedAt),
      eventsPerSec: Math.round(accepted / ((consumedAt - started) / 1000)),
    });
  } finally {
    await runtime.stop();
  }
}
