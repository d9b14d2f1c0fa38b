import { rm } from 'node:fs/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import { BUCKET_WIDTH_MS } from '../functions/core';
import { startRuntime } from '../local/runtime';

export interface FreshnessOptions {
  /** The speed mapping's batching window the local pipeline runs with (the stage's `speedBatchingWindowSeconds`). */
  readonly batchingWindowSeconds: number;
  /** Events measured, one at a time apart. */
  readonly events: number;
  /** A new event is posted this often. @default 200 */
  readonly intervalMs?: number;
  /** How often the series is asked for (one request for every event in flight). @default 20 */
  readonly pollMs?: number;
  /** Scratch data folder, deleted first. @default .driftless/bench-freshness */
  readonly dataDir?: string;
}

/** Freshness at one batching window: percentiles of the delay from POST /events to the event in the series. */
export interface Freshness {
  readonly batchingWindowSeconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly events: number;
}

export interface FreshnessBenchOptions extends Required<Omit<FreshnessOptions, 'batchingWindowSeconds'>> {
  /** One measurement for each. */
  readonly batchingWindowsSeconds: readonly number[];
}

const HOUR = BUCKET_WIDTH_MS.hour;
/** What an event may take beyond the batching window: the API, the stream, the handler, the table, the poll. */
const GOAL_BEYOND_WINDOW_MS = 1_000;
const print = (line: object) => console.log(JSON.stringify(line));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;

/**
 * Freshness through the whole local pipeline at one batching window: each event (a group of its own in
 * the revenue view) is posted to the API, and timed until the merged series shows it: API -> Kinesis ->
 * consumer (with the speed mapping's batching window, from the template of a stage with this window) ->
 * speed handler -> DynamoDB -> API. One poller asks for the series for every event in flight, so polling
 * load does not grow with the events measured.
 */
export async function measureFreshness(options: FreshnessOptions): Promise<Freshness> {
  const dataDir = options.dataDir ?? '.driftless/bench-freshness';
  const intervalMs = options.intervalMs ?? 200;
  const pollMs = options.pollMs ?? 20;
  await rm(dataDir, { recursive: true, force: true });
  const runtime = await startRuntime({
    dataDir,
    port: 0,
    batchEveryMs: 0,
    stage: { speedBatchingWindowSeconds: options.batchingWindowSeconds },
    logger: new Logger({ logLevel: 'ERROR' }),
  });
  try {
    const started = Date.now();
    const seriesUrl = () =>
      `${runtime.apiUrl}/views/revenue/series?from=${started - HOUR}&to=${Date.now() + HOUR}`;
    const pending = new Map<string, { postedAt: number; resolve: (latencyMs: number) => void }>();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        if (pending.size > 0) {
          const answer = (await (
            await fetch(seriesUrl(), { headers: { 'x-api-key': runtime.apiKey } })
          ).json()) as {
            buckets: { groups: { key: { country: string | null } }[] }[];
          };
          const seenAt = performance.now();
          for (const bucket of answer.buckets)
            for (const group of bucket.groups) {
              const probe = pending.get(group.key.country ?? '');
              if (probe === undefined) continue;
              pending.delete(group.key.country ?? '');
              probe.resolve(seenAt - probe.postedAt);
            }
        }
        await sleep(pollMs);
      }
    })();

    const latencies: number[] = [];
    const probes: Promise<void>[] = [];
    for (let index = 0; index < options.events; index++) {
      const country = `F${String(index).padStart(4, '0')}`;
      const postedAt = performance.now();
      probes.push(
        new Promise<number>((resolve) => pending.set(country, { postedAt, resolve })).then((latency) => {
          latencies.push(latency);
        }),
      );
      const response = await fetch(`${runtime.apiUrl}/events`, {
        method: 'POST',
        headers: { 'x-api-key': runtime.apiKey },
        body: JSON.stringify({ id: `fresh-${index}`, ts: Date.now(), country, amount: 100, status: 'paid' }),
      });
      if (response.status !== 202) throw new Error(`POST /events answered ${response.status}`);
      await sleep(intervalMs);
    }
    await Promise.all(probes);
    polling = false;
    await poller;
    latencies.sort((a, b) => a - b);
    return {
      batchingWindowSeconds: options.batchingWindowSeconds,
      p50Ms: Math.round(percentile(latencies, 50)),
      p99Ms: Math.round(percentile(latencies, 99)),
      maxMs: Math.round(latencies.at(-1) ?? Number.NaN),
      events: latencies.length,
    };
  } finally {
    await runtime.stop();
  }
}

/** Measures freshness at each batching window in turn, one JSON line each; the goal is the window plus a second. */
export async function benchFreshness(options: FreshnessBenchOptions): Promise<void> {
  for (const batchingWindowSeconds of options.batchingWindowsSeconds) {
    const freshness = await measureFreshness({ ...options, batchingWindowSeconds });
    const goalP99Ms = batchingWindowSeconds * 1000 + GOAL_BEYOND_WINDOW_MS;
    print({
      bench: 'freshness',
      batchingWindowSeconds,
      events: freshness.events,
      freshnessP50Ms: freshness.p50Ms,
      freshnessP99Ms: freshness.p99Ms,
      maxMs: freshness.maxMs,
      goalP99Ms,
      met: freshness.p99Ms <= goalP99Ms,
    });
  }
}
