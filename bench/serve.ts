import { rm } from 'node:fs/promises';
import { get } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { Logger } from '@aws-lambda-powertools/logger';
import autocannon from 'autocannon';
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

/** The answer's bytes as a client accepting gzip gets them. */
function getGzipped(url: string, apiKey: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { 'accept-encoding': 'gzip', 'x-api-key': apiKey } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () =>
        response.headers['content-encoding'] === 'gzip'
          ? resolve(Buffer.concat(chunks))
          : reject(new Error(`series answered ${response.statusCode} without gzip`)),
      );
    }).on('error', reject);
  });
}

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
        headers: { 'x-api-key': runtime.apiKey },
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
    const expected = await (await fetch(url, { headers: { 'x-api-key': runtime.apiKey } })).text();
    const check = JSON.parse(expected) as { buckets: { groups: unknown[] }[] };
    const groupsServed = check.buckets.reduce((sum, bucket) => sum + bucket.groups.length, 0);
    dynamoRequests = 0;
    // Each answer served under load is this one, gzipped: checked once here, then only by status and size.
    const zipped = await getGzipped(url, runtime.apiKey);
    if (gunzipSync(zipped).toString() !== expected)
      throw new Error('the gzipped answer is not the plain one');
    // autocannon on a worker thread, as clients would be on other machines: the API's thread serves only.
    // Kept-alive connections, gzip accepted as a dashboard does; the clients do not unzip (their machine's
    // work, which here would take the second core from the server).
    const result = await autocannon({
      url,
      connections: options.clients,
      duration: options.seconds,
      workers: 1,
      headers: { 'accept-encoding': 'gzip', 'x-api-key': runtime.apiKey },
      // Unmeasured first: the server's code is compiled and optimized as it runs.
      warmup: { connections: options.clients, duration: options.warmupSeconds },
    } as autocannon.Options);
    const warmupRequests = (result as { warmup?: autocannon.Result }).warmup?.requests.total ?? 0;
    const failures = result.non2xx + result.errors + result.timeouts;
    if (failures > 0)
      throw new Error(
        `${result.non2xx} answers not 2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
      );
    const requests = result.requests.total;
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
      gzippedBytes: zipped.length,
      requests,
      p50Ms: result.latency.p50,
      p90Ms: result.latency.p90,
      p99Ms: result.latency.p99,
      maxMs: result.latency.max,
      requestsPerSec: Math.round((requests / options.seconds) * 10) / 10,
      dynamoRequestsPerCall: Math.round((dynamoRequests / (requests + warmupRequests)) * 100) / 100,
    });
  } finally {
    await runtime.stop();
  }
}
