import { rm } from 'node:fs/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import { BUCKET_WIDTH_MS } from '../functions/core';
import { startRuntime } from '../local/runtime';

export interface FreshnessBenchOptions {
  /** Events measured, one at a time apart. */
  readonly events: number;
  /** A new event is posted this often. */
  readonly intervalMs: number;
  /** How often the series is asked for (one request for every event in flight). */
  readonly pollMs: number;
  readonly dataDir: string;
}

const HOUR = BUCKET_WIDTH_MS.hour;
const GOAL_P99_MS = 2_000;
const print = (line: object) => console.log(JSON.stringify(line));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;

/**
 * Freshness through the whole local pipeline: each event (a group of its own in the revenue view) is
 * posted to the API, and timed until the merged series shows it: API -> Kinesis -> consumer (with the
 * speed mapping's batching window) -> speed handler -> DynamoDB -> API. One poller asks for the series
 * for every event in flight, so polling load does not grow with the events measured.
 */
export async function benchFreshness(options: FreshnessBenchOptions): Promise<void> {
  await rm(options.dataDir, { recursive: true, force: true });
  const runtime = await startRuntime({
    dataDir: options.dataDir,
    port: 0,
    batchEveryMs: 0,
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
        await sleep(options.pollMs);
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
          if (latencies.length % 50 === 0) print({ phase: 'progress', measured: latencies.length });
        }),
      );
      const response = await fetch(`${runtime.apiUrl}/events`, {
        method: 'POST',
        headers: { 'x-api-key': runtime.apiKey },
        body: JSON.stringify({ id: `fresh-${index}`, ts: Date.now(), country, amount: 100, status: 'paid' }),
      });
      if (response.status !== 202) throw new Error(`POST /events answered ${response.status}`);
      await sleep(options.intervalMs);
    }
    await Promise.all(probes);
    polling = false;
    await poller;
    latencies.sort((a, b) => a - b);
    const round = (value: number) => Math.round(value);
    const p99Ms = round(percentile(latencies, 99));
    print({
      bench: 'freshness',
      events: latencies.length,
      p50Ms: round(percentile(latencies, 50)),
      p99Ms,
      maxMs: round(latencies.at(-1) ?? Number.NaN),
      goalP99Ms: GOAL_P99_MS,
      met: p99Ms <= GOAL_P99_MS,
    });
  } finally {
    await runtime.stop();
  }
}
