import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderEvent } from '../../events';
import { BUCKET_WIDTH_MS } from '../../functions/core';
import { generateOrders } from '../../local/demo';
import { ordersPerMinute } from '../../views';
import { batchRunThroughApi } from '../support/batch-runs';
import { startTestRuntime, type TestRuntime } from '../support/runtime';
import type { SeriesAnswer } from '../support/series';
import { waitFor } from '../support/wait';

const MINUTE = BUCKET_WIDTH_MS.minute;
const RUNS = 3;
/** Each run starts this long after a minute boundary: while the last seconds' events are still on their way to the archive. */
const PAST_BOUNDARY_MS = 300;
/** Events per POST, POSTs in flight at once, and each client's pause between POSTs (its pace, about 200 events/s in all). */
const EVENTS_PER_POST = 10;
const POSTERS = 2;
const PACE_MS = 50;
/** The local Firehose's buffering: the archive trails the stream by up to this, as Firehose's 60 s do in AWS. */
const ARCHIVE_BUFFER_MS = 5_000;

/** One POST /events the API answered: its events' times and when the answer came. */
interface Accepted {
  readonly answeredAt: number;
  readonly times: readonly number[];
}

let env: TestRuntime;
const accepted: Accepted[] = [];
let posting = true;
let posters: Promise<void>[] = [];

/** Posts events timed now, one POST after another, until told to stop; records what the API accepted. */
async function poster(index: number): Promise<void> {
  const orders = generateOrders({ seed: 20 + index, idPrefix: `continuous-${index}` });
  while (posting) {
    const events: OrderEvent[] = [];
    for (let count = 0; count < EVENTS_PER_POST; count++) {
      const next = orders.next().value;
      if (next?.kind === 'valid') events.push({ ...next.event, ts: Date.now() });
    }
    const answer = await env.call('POST', '/events', events);
    // Every event is valid: the API accepts them all, or the test is wrong.
    expect(answer.status).toBe(202);
    expect(answer.body.accepted).toBe(events.length);
    accepted.push({ answeredAt: Date.now(), times: events.map((event) => event.ts) });
    await new Promise((resolve) => setTimeout(resolve, PACE_MS));
  }
}

const minuteOf = (time: number) => time - (time % MINUTE);

/** Waits for the next minute boundary, plus `PAST_BOUNDARY_MS`: the moment the runs went wrong. */
async function justPastNextMinute(): Promise<void> {
  const target = minuteOf(Date.now()) + MINUTE + PAST_BOUNDARY_MS;
  await waitFor(() => Date.now() >= target, { timeoutMs: MINUTE + 5_000, what: 'the next minute' });
}

/** Starts a batch run through the API and waits for it; resolves to the view's new watermark. */
async function batchRun(): Promise<number> {
  const run = await batchRunThroughApi(env.call);
  const view = (run.views as { view: string; watermark: number }[]).find(
    (candidate) => candidate.view === ordersPerMinute.name,
  );
  return view?.watermark as number;
}

/** The exact (batch) orders per minute bucket over [from, to), all statuses summed. */
async function exactCounts(from: number, to: number): Promise<Map<number, number>> {
  if (to <= from) return new Map();
  const answer = await env.call(
    'GET',
    `/views/${ordersPerMinute.name}/series?from=${from}&to=${to}&exact=true`,
  );
  expect(answer.status).toBe(200);
  const counts = new Map<number, number>();
  for (const bucket of (answer.body as SeriesAnswer).buckets)
    for (const group of bucket.groups)
      counts.set(
        bucket.start,
        (counts.get(bucket.start) ?? 0) + Number((group.values as { orders: number }).orders),
      );
  return counts;
}

/** Accepted events per minute bucket, of the POSTs answered before `answeredBefore`. */
function acceptedCounts(answeredBefore: number): Map<number, number> {
  const counts = new Map<number, number>();
  for (const post of accepted)
    if (post.answeredAt < answeredBefore)
      for (const time of post.times) counts.set(minuteOf(time), (counts.get(minuteOf(time)) ?? 0) + 1);
  return counts;
}

describe('batch runs while clients post, with settle 0', { timeout: (RUNS + 2) * MINUTE }, () => {
  beforeAll(async () => {
    env = await startTestRuntime('continuous-runs', { archiveBufferMs: ARCHIVE_BUFFER_MS });
  });

  afterAll(async () => {
    posting = false;
    await Promise.allSettled(posters);
    await env?.stop();
  });

  it('counts, in every bucket below each new watermark, every event accepted before the run started', async () => {
    // Prepare: clients posting events timed now, all the while
    const postingFrom = minuteOf(Date.now());
    posters = Array.from({ length: POSTERS }, (_, index) => poster(index));
    const runs: { startedAfter: number; watermark: number; served: Map<number, number> }[] = [];
    // Act: runs started just past minute boundaries, while the last seconds' events travel to the archive
    for (let run = 0; run < RUNS; run++) {
      await justPastNextMinute();
      const startedAfter = Date.now();
      const watermark = await batchRun();
      runs.push({ startedAfter, watermark, served: await exactCounts(postingFrom, watermark) });
    }
    posting = false;
    await Promise.all(posters);
    // Assess: below W, each bucket holds every event accepted before the run, and nothing never accepted
    for (const { startedAfter, watermark, served } of runs) {
      const before = acceptedCounts(startedAfter);
      const ever = acceptedCounts(Number.POSITIVE_INFINITY);
      for (let bucket = postingFrom; bucket < watermark; bucket += MINUTE) {
        const at = new Date(bucket).toISOString();
        expect(
          served.get(bucket) ?? 0,
          `${at}, W ${new Date(watermark).toISOString()}`,
        ).toBeGreaterThanOrEqual(before.get(bucket) ?? 0);
        expect(served.get(bucket) ?? 0, at).toBeLessThanOrEqual(ever.get(bucket) ?? 0);
      }
    }
    // And the watermark moved each time: the archive caught up with each run's start, so W is its minute.
    for (const { startedAfter, watermark } of runs) expect(watermark).toBe(minuteOf(startedAfter));
  });
});
