import { readdir, rm } from 'node:fs/promises';
import { relative } from 'node:path';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUCKET_WIDTH_MS,
  deduplicateEvents,
  SKETCH_ERROR_ABSOLUTE_SLACK,
  sketchRelativeErrorBound,
  type ViewDefinition,
  withinSketchBound,
} from '../../functions/core';
import { generateOrders, generatePageViews, take } from '../../local/demo';
import type { Runtime } from '../../local/runtime';
import { pageViews, revenue, uniqueCustomers } from '../../views';
import { batchRunThroughApi } from '../support/batch-runs';
import { startTestRuntime, type TestRuntime } from '../support/runtime';
import { answeredSeries, expectedSeries, type SeriesAnswer, seriesKey } from '../support/series';
import { waitFor } from '../support/wait';

const HOUR = 3_600_000;
const SETTLED_HOURS = 3;
const startedAt = Date.now();
const hourStart = startedAt - (startedAt % HOUR);
/** The window every event falls in: three whole hours before this one, and this one so far. */
const from = hourStart - SETTLED_HOURS * HOUR;
const to = hourStart + 2 * HOUR; // a bucket more, in case the hour turns during the test

/**
 * Event times: the first `settled` events spread evenly over the three whole hours (so those hours hold
 * the same events whatever the minute the test starts at), the next `current` over this hour so far.
 */
const spread =
  (settled: number, current: number) =>
  (index: number): number =>
    index < settled
      ? from + Math.floor((index * SETTLED_HOURS * HOUR) / settled)
      : hourStart + Math.floor(((index - settled) * (startedAt - hourStart)) / current);

/** With producer retries (same id, same event): counted by the speed layer, once by the batch layer. */
const orders = take(
  generateOrders({ seed: 17, idPrefix: 'cd-o', duplicates: 0.02, time: spread(2_400, 60) }),
  2_460,
).map((record) => record.event as Record<string, unknown> & { ts: number });
const views = take(
  generatePageViews({ seed: 18, idPrefix: 'cd-v', duplicates: 0.02, time: spread(3_600, 90) }),
  3_690,
).map((record) => record.event as Record<string, unknown> & { ts: number });
/** Both catalogs in one stream, in event-time order: every POST holds orders and page views. */
const mixed = [...orders, ...views].sort((a, b) => a.ts - b.ts);

/** Refused by the API at these indexes of the first POST: an unknown type, and none. */
const UNKNOWN_AT = 7;
const UNTYPED_AT = 13;
const unknownType = { type: 'click', id: 'cd-click', ts: startedAt, path: '/', country: 'JP' };
const untyped = { id: 'cd-untyped', ts: startedAt, path: '/', country: 'JP' };
/** Put straight on the stream, where no API checks it: the speed layer quarantines it. */
const streamedUnknown = {
  type: 'checkout',
  id: 'cd-raw-checkout',
  ts: startedAt,
  amount: 100,
  status: 'paid',
};
const KNOWN_TYPES = 'one of order, page_view';

/**
 * The first run's settle: its watermark stops two hours back, so a second run (settle 0, after a
 * restart over the same data) moves it on over two hours the speed layer counted: a first run backfills
 * and compares nothing, the second one reconciles those hours (the drift report with the sketch error).
 */
const FIRST_SETTLE_MS = 2 * HOUR;

let runtime: Runtime;
let stop: () => Promise<void>;
let call: TestRuntime['call'];
/** The data folder the runtime restarted in (the first runtime's). */
let restartedIn: string | undefined;

/** The view's series over the test's window, at its own bucket. */
async function series(view: ViewDefinition): Promise<SeriesAnswer & { buckets: Bucket[] }> {
  const answer = await call('GET', `/views/${view.name}/series?from=${from}&to=${to}`);
  expect(answer.status).toBe(200);
  return answer.body;
}

type Bucket = SeriesAnswer['buckets'][number] & { distinct?: string };

/** Exact distinct customers of paid orders, per hour and country: COUNT(DISTINCT) in the JS reducer. */
const exactCustomers = (events: readonly Record<string, unknown>[], end = to) =>
  expectedSeries(uniqueCustomers, events, from, end) as Map<string, { customers: number }>;

/** Files under a folder, as paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, `${entry.parentPath}/${entry.name}`));
}

/** The entries of a series map whose bucket lies in [start, end). */
const inRange = <V>(series: Map<string, V>, start: number, end: number) =>
  new Map(
    [...series].filter(([key]) => {
      const bucket = Number(key.split('|')[0]);
      return bucket >= start && bucket < end;
    }),
  );

/** Waits for both consumers of the current runtime to read `records` records. */
const consumed = (records: number) =>
  waitFor(
    () => runtime.speedConsumer.stats.records >= records && runtime.archiveConsumer.stats.records >= records,
    { timeoutMs: 40_000, what: `both consumers to read ${records} records` },
  );

/** A batch run through the API that committed every view; with the watermark of the hourly views. */
async function batchRun(): Promise<{ answer: BatchRunAnswer; watermark: number }> {
  const answer: BatchRunAnswer = await batchRunThroughApi(call);
  for (const view of answer.views) expect(view.committedByThisRun, view.view).toBe(true);
  const watermark = answer.views.find((view) => view.view === uniqueCustomers.name)?.watermark as number;
  expect(watermark % HOUR).toBe(0);
  return { answer, watermark };
}

// The runtime synthesizes the stack first: seconds, more on a busy machine.
beforeAll(async () => {
  ({ runtime, call, stop } = await startTestRuntime('catalogs-distinct', { settleMs: FIRST_SETTLE_MS }));
}, 60_000);

afterAll(async () => {
  await stop?.();
  // startTestRuntime's stop removes the folder it made, not one passed in: the restart's is removed here.
  if (restartedIn !== undefined) await rm(restartedIn, { recursive: true, force: true });
});

describe('two catalogs and a distinct count through the local pipeline', () => {
  const precision = uniqueCustomers.distinctPrecision;
  /** The stated bound's relative part; its absolute part is SKETCH_ERROR_ABSOLUTE_SLACK values. */
  const bound = sketchRelativeErrorBound(precision);
  /** The speed layer's estimates of the settled hours, for the drift report to compare with. */
  let estimates: Map<string, { customers: number }>;
  /** The watermarks of the first run (settle two hours) and of the second (settle 0). */
  let firstWatermark: number;
  let watermark: number;
  let secondRun: BatchRunAnswer;

  it('takes mixed batches, answering per index; quarantines an unknown type put on the stream', async () => {
    const first = mixed.slice(0, 498);
    first.splice(UNKNOWN_AT, 0, unknownType);
    first.splice(UNTYPED_AT, 0, untyped);
    const answer = await call('POST', '/events', first);
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({
      accepted: 498,
      rejected: 2,
      errors: [
        {
          index: UNKNOWN_AT,
          message: `unknown event type "click": ${KNOWN_TYPES}`,
          fields: [{ field: 'type', message: `unknown event type "click": ${KNOWN_TYPES}` }],
        },
        {
          index: UNTYPED_AT,
          message: `no type: ${KNOWN_TYPES}`,
          fields: [{ field: 'type', message: `no type: ${KNOWN_TYPES}` }],
        },
      ],
    });
    for (let offset = 498; offset < mixed.length; offset += 500) {
      const rest = await call('POST', '/events', mixed.slice(offset, offset + 500));
      expect(rest.status).toBe(202);
      expect(rest.body).toMatchObject({ accepted: Math.min(500, mixed.length - offset), rejected: 0 });
    }

    const put = await runtime.emulators.kinesis.send(
      new PutRecordCommand({
        StreamName: runtime.streamName,
        PartitionKey: streamedUnknown.id,
        Data: Buffer.from(JSON.stringify(streamedUnknown)),
      }),
    );
    expect(put.SequenceNumber).toBeDefined();
    const quarantined = await waitFor(
      async () => {
        const listed = await call('GET', '/quarantine?limit=10');
        return listed.body.total > 0 ? listed.body : undefined;
      },
      { timeoutMs: 40_000, what: 'the unknown type in quarantine' },
    );
    // Only it: every event the API put named a known type.
    expect(quarantined.total).toBe(1);
    expect(quarantined.records[0].reason).toBe(`unknown event type "checkout": ${KNOWN_TYPES}`);
    expect(JSON.parse(Buffer.from(quarantined.records[0].data, 'base64').toString())).toEqual(
      streamedUnknown,
    );
  }, 60_000);

  it('serves each catalog its own events from the speed layer, distinct counts as sketches within their bound', async () => {
    // Counted as sent, retries included: the speed layer does not dedupe.
    const pageViewTruth = expectedSeries(pageViews, views, from, to);
    const revenueTruth = expectedSeries(revenue, orders, from, to);
    await waitFor(
      async () => {
        expect(answeredSeries(await series(pageViews))).toEqual(pageViewTruth);
        expect(answeredSeries(await series(revenue))).toEqual(revenueTruth);
        return true;
      },
      { timeoutMs: 40_000, what: 'the speed layer to count every event' },
    );
    // Orders carry a country too: a page-view count that took them in would be far above this.
    const totalViews = [...pageViewTruth.values()].reduce((sum, values) => sum + Number(values.views), 0);
    expect(totalViews).toBe(views.length);

    const revenueAnswer = await series(revenue);
    expect(revenueAnswer.buckets.length).toBeGreaterThan(SETTLED_HOURS);
    for (const bucket of revenueAnswer.buckets) expect(bucket).not.toHaveProperty('distinct');

    const customers = await series(uniqueCustomers);
    expect(customers.watermark).toBe(0);
    for (const bucket of customers.buckets) {
      expect(bucket.source).toBe('speed');
      expect(bucket.distinct).toBe('sketch');
    }
    estimates = answeredSeries(customers) as Map<string, { customers: number }>;
    const exact = exactCustomers(orders);
    expect([...estimates.keys()].sort()).toEqual([...exact.keys()].sort());
    for (const [key, { customers: count }] of exact) {
      const estimate = estimates.get(key)?.customers as number;
      expect(withinSketchBound(estimate, count, precision), `${key}: ${estimate} estimates ${count}`).toBe(
        true,
      );
    }
    // Estimates, not the exact counts relabelled: with these seeds a few are off by one or two.
    expect(
      [...exact].filter(([key, { customers: count }]) => estimates.get(key)?.customers !== count),
    ).not.toEqual([]);

    const listed = await call('GET', '/views');
    const described = (name: string) =>
      listed.body.views.find((view: { name: string }) => view.name === name).distinct;
    expect(described(revenue.name)).toBeNull();
    expect(described(uniqueCustomers.name)).toMatchObject({
      measures: ['customers'],
      precision: 12,
      errorBound: bound,
      errorSlack: SKETCH_ERROR_ABSOLUTE_SLACK,
    });
  }, 60_000);

  it('serves exact distinct counts below the watermark, estimates above it, never mixed in a bucket', async () => {
    await consumed(mixed.length + 1);
    const run = await batchRun();
    firstWatermark = run.watermark;
    // Settle two hours: W is the start of the hour two hours back (one hour later if the hour turned).
    expect(firstWatermark).toBeGreaterThanOrEqual(hourStart - FIRST_SETTLE_MS);
    expect(firstWatermark).toBeGreaterThan(from);

    const customers = await series(uniqueCustomers);
    expect(customers.watermark).toBe(firstWatermark);
    for (const bucket of customers.buckets) {
      expect(bucket.source).toBe(bucket.start < firstWatermark ? 'batch' : 'speed');
      expect(bucket.distinct).toBe(bucket.start < firstWatermark ? 'exact' : 'sketch');
    }
    const exact = exactCustomers(deduplicateEvents(uniqueCustomers, orders));
    expect(answeredSeries(customers, from, firstWatermark)).toEqual(inRange(exact, from, firstWatermark));
    expect(answeredSeries(customers, firstWatermark, to)).toEqual(inRange(estimates, firstWatermark, to));
  }, 60_000);

  it('after a restart with settle 0, serves every settled hour exact: distinct customers and deduplicated page views', async () => {
    // The same data folder: the stream, the tables and the archive carry over, as across a deploy.
    restartedIn = runtime.dataDir;
    await runtime.stop();
    ({ runtime, call, stop } = await startTestRuntime('catalogs-distinct', {
      dataDir: restartedIn,
      settleMs: 0,
    }));
    const run = await batchRun();
    secondRun = run.answer;
    watermark = run.watermark;
    // Settle 0: W is the start of the current hour (later only if the hour turned meanwhile).
    expect(watermark).toBeGreaterThanOrEqual(hourStart);

    // The archive is filed per catalog; nothing under the old single-catalog layout.
    const archived = await filesUnder(runtime.archiveDir);
    const folders = new Set(archived.map((path) => path.replace(/dt=.*$/, 'dt=')));
    expect([...folders].sort()).toEqual(['events/order/dt=', 'events/page_view/dt=']);

    const customers = await series(uniqueCustomers);
    expect(customers.watermark).toBe(watermark);
    for (const bucket of customers.buckets) {
      expect(bucket.source).toBe(bucket.start < watermark ? 'batch' : 'speed');
      expect(bucket.distinct).toBe(bucket.start < watermark ? 'exact' : 'sketch');
    }
    const exact = inRange(exactCustomers(deduplicateEvents(uniqueCustomers, orders)), from, watermark);
    expect(exact.size).toBeGreaterThanOrEqual(SETTLED_HOURS * 6);
    expect(answeredSeries(customers, from, watermark)).toEqual(exact);

    const viewsAnswer = await series(pageViews);
    for (const bucket of viewsAnswer.buckets)
      expect(bucket.source).toBe(bucket.start < watermark ? 'batch' : 'speed');
    const deduplicated = expectedSeries(pageViews, deduplicateEvents(pageViews, views), from, watermark);
    // The retries make the exact counts differ from the speed layer's.
    expect(deduplicated).not.toEqual(expectedSeries(pageViews, views, from, watermark));
    expect(answeredSeries(viewsAnswer, from, watermark)).toEqual(deduplicated);
  }, 60_000);

  it('reports the sketch error of every bucket the run settled, within its bound, not as drift', async () => {
    const driftOf = (name: string) => secondRun.views.find((view) => view.view === name)?.drift;
    const report = driftOf(uniqueCustomers.name) as DriftReportAnswer;
    // The buckets this run moved below the watermark, exact now: what it compared.
    const settled = inRange(exactCustomers(orders), firstWatermark, watermark);
    expect(settled.size).toBeGreaterThanOrEqual(6);
    expect(report).toMatchObject({ from: firstWatermark, to: watermark, rowsCompared: settled.size });
    // The estimates' error is the sketch's, expected: no drift.
    expect(report.rowsDiffering).toBe(0);
    expect(report.driftRatio).toBe(0);
    const sketch = report.sketchError?.customers;
    expect(sketch).toMatchObject({
      precision: 12,
      errorBound: bound,
      errorSlack: SKETCH_ERROR_ABSOLUTE_SLACK,
      rowsCompared: settled.size,
      rowsOverBound: 0,
    });
    expect(sketch?.rows).toHaveLength(settled.size);
    expect(sketch?.largest).toEqual(sketch?.rows[0]);
    for (const row of sketch?.rows ?? []) {
      const key = seriesKey(row.bucket, { country: row.group[0] });
      expect(row.exact, key).toBe(String(settled.get(key)?.customers));
      expect(row.estimate, key).toBe(String(estimates.get(key)?.customers));
      expect(row.relativeError).toBe(Math.abs(Number(row.estimate) - Number(row.exact)) / Number(row.exact));
      expect(row.overBound, key).toBe(false);
      expect(withinSketchBound(BigInt(row.estimate), BigInt(row.exact), precision), key).toBe(true);
    }
    // Views without a distinct measure have no sketch error in their report.
    for (const name of [revenue.name, pageViews.name]) {
      expect(driftOf(name)).toMatchObject({ from: firstWatermark, to: watermark });
      expect(driftOf(name)).not.toHaveProperty('sketchError');
    }
    // The drift route serves the same report.
    const drift = await call('GET', '/drift?limit=1');
    expect(drift.status).toBe(200);
    const latest = drift.body.views.find((view: { view: string }) => view.view === uniqueCustomers.name);
    expect(latest.reports).toEqual([report]);
  });

  it('refuses a coarser step on a view with a distinct measure, naming step; takes it on one without', async () => {
    const day = BUCKET_WIDTH_MS.day;
    const dayFrom = from - (from % day);
    const range = `from=${dayFrom}&to=${dayFrom + 2 * day}&step=day`;
    const refused = await call('GET', `/views/${uniqueCustomers.name}/series?${range}`);
    expect(refused.status).toBe(400);
    expect(refused.body.details).toEqual({ parameter: 'step' });
    expect(refused.body.message).toMatch(/^step: .*distinct counts of different buckets do not add/);

    const daily = await call('GET', `/views/${pageViews.name}/series?${range}`);
    expect(daily.status).toBe(200);
    const hourly = await call(
      'GET',
      `/views/${pageViews.name}/series?from=${dayFrom}&to=${dayFrom + 2 * day}`,
    );
    const total = (answer: SeriesAnswer) =>
      [...answeredSeries(answer).values()].reduce(
        (sum, values) => sum + Number((values as { views: number }).views),
        0,
      );
    expect(total(daily.body)).toBe(total(hourly.body));
    expect(total(daily.body)).toBeGreaterThan(0);
  });
});

/** The parts of a batch run's answer (`GET /batch-runs/{id}`) this test reads. */
interface BatchRunAnswer {
  views: { view: string; watermark: number; committedByThisRun: boolean; drift: DriftReportAnswer | null }[];
}

/** The parts of a drift report (functions/batch/reconcile.ts) this test reads. */
interface DriftReportAnswer {
  from: number;
  to: number;
  rowsCompared: number;
  rowsDiffering: number;
  driftRatio: number;
  sketchError?: Record<
    string,
    {
      precision: number;
      errorBound: number;
      errorSlack: number;
      rowsCompared: number;
      rowsOverBound: number;
      largest: SketchRow | null;
      rows: SketchRow[];
    }
  >;
}

interface SketchRow {
  bucket: number;
  group: (string | null)[];
  exact: string;
  estimate: string;
  relativeError: number;
  overBound: boolean;
}
