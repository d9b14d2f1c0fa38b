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
  /** Seconds the clients ask, unmeasured, before the measured `seconds`. */
  readonly warmupSeconds: number;
  readonly seriesDays: number;
  readonly step: string;
  readonly dataDir: string;
}

const HOUR = BUCKET_WIDTH_MS.hour;
const print = (line: object) => console.log(JSON.stringify(line));

/**
 * `clients` closed-loop clients asking `url` back to back for `seconds`, each on a kept-alive connection,
 * accepting gzip as a dashboard does; posts each latency (to the answer's last byte). Unzipping is the
 * client machine's work: here it would take the second core from the server, so each client unzips only
 * its first answer, to check it is the `expected` text, and checks the others' status and size.
 */
const CLIENTS = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { gunzipSync } = require('node:zlib');
const { url, clients, seconds, warmupSeconds, expected } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
const latencies = [];
let bytes = 0;
let gzippedSize;
/** One answer; the first one a client gets is unzipped and compared, the others only by their size. */
function get(check) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent, headers: { 'Accept-Encoding': 'gzip' }, timeout: 10000 }, (response) => {
      const chunks = [];
      let size = 0;
      response.on('data', (chunk) => {
        size += chunk.length;
        if (check) chunks.push(chunk);
      });
      response.on('error', reject);
      response.on('end', () => {
        bytes += size;
        if (response.statusCode !== 200) return reject(new Error('series answered ' + response.statusCode));
        if (response.headers['content-encoding'] !== 'gzip') return reject(new Error('series answered without gzip'));
        if (check) {
          if (gunzipSync(Buffer.concat(chunks)).toString() !== expected)
            return reject(new Error('series answered other than the checked answer'));
          gzippedSize ??= size;
        } else if (size !== gzippedSize) return reject(new Error('series answered ' + size + ' bytes, not ' + gzippedSize));
        resolve();
      });
    });
    request.on('timeout', () => request.destroy(new Error('series did not answer in 10 s')));
    request.on('error', reject);
  });
}
async function client(deadline, measured) {
  while (performance.now() < deadline) {
    const started = performance.now();
    await get(false);
    if (measured) latencies.push(performance.now() - started);
  }
}
const all = (deadline, measured) =>
  Promise.all(Array.from({ length: clients }, () => client(deadline, measured)));
// Each client connects and checks its first answer, then all ask unmeasured for warmupSeconds (the
// server's code is compiled and optimized as it runs): what is measured is the steady state after.
Promise.all(Array.from({ length: clients }, () => get(true)))
  .then(() => all(performance.now() + warmupSeconds * 1000, false))
  .then(() => {
    bytes = 0;
    const started = performance.now();
    return all(started + seconds * 1000, true).then(() =>
      parentPort.postMessage({ latencies, bytes, elapsed: (performance.now() - started) / 1000 }),
    );
  })
  .catch((error) => { throw error; });
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
    const expected = await (await fetch(url)).text();
    const check = JSON.parse(expected) as { buckets: { groups: unknown[] }[] };
    const groupsServed = check.buckets.reduce((sum, bucket) => sum + bucket.groups.length, 0);
    dynamoRequests = 0;
    // The clients run on a worker thread, as they would on other machines: the API's thread serves only.
    const worker = new Worker(CLIENTS, {
      eval: true,
      workerData: {
        url,
        clients: options.clients,
        seconds: options.seconds,
        warmupSeconds: options.warmupSeconds,
        expected,
      },
    });
    const { latencies, bytes, elapsed } = (await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    })) as { latencies: number[]; bytes: number; elapsed: number };
    await worker.terminate();
    latencies.sort((a, b) => a - b);
    const round = (value: number) => Math.round(value * 100) / 100;
    print({
      bench: 'serve',
      days: options.days,
      groups: options.groups,
      clients: options.clients,
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      step: options.step,
      seriesBuckets: check.buckets.length,
      seriesGroups: groupsServed,
      answerBytes: Buffer.byteLength(expected),
      gzippedBytes: Math.round(bytes / latencies.length),
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
