import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderEvent } from '../../events';
import { packRecords, unpackRecord } from '../../functions/adapters/kinesis-aggregation';
import {
  BUCKET_WIDTH_MS,
  deduplicateEvents,
  hasDistinctMeasure,
  type ViewDefinition,
} from '../../functions/core';
import { generateOrders, take } from '../../local/demo';
import type { Runtime } from '../../local/runtime';
import { views } from '../../views';
import { batchRunThroughApi } from '../support/batch-runs';
import { startTestRuntime, type TestRuntime } from '../support/runtime';
import { answeredSeries, expectedSeries, type SeriesAnswer } from '../support/series';
import { waitFor } from '../support/wait';

const HOUR = 3_600_000;
const TOTAL_RECORDS = 10_000;
const INVALID_RECORDS = TOTAL_RECORDS / 100;
const LATE_EVENTS = 1_500;
const ON_TIME_RECORDS = TOTAL_RECORDS - INVALID_RECORDS - LATE_EVENTS;

const startedAt = Date.now();
/**
 * On-time events: the last 110 minutes, in order, with 5% producer retries (same id, same event). More
 * than an hour, so an hourly view has settled buckets whatever the minute the test starts at.
 */
const onTime = take(
  generateOrders({
    seed: 6,
    idPrefix: 'e2e',
    duplicates: 0.05,
    time: (index) => startedAt - 110 * 60_000 + Math.floor((index * 110 * 60_000) / ON_TIME_RECORDS),
  }),
  ON_TIME_RECORDS,
).map((record) => record.event as OrderEvent);
/** Late events: event times 2 to 26 hours back, arriving after the first batch run settled those hours. */
const late = take(generateOrders({ seed: 7, idPrefix: 'e2e-late' }), LATE_EVENTS).map((record, index) => ({
  ...(record.event as OrderEvent),
  ts: startedAt - 2 * HOUR - index * 57_600,
}));
/** Invalid records, put straight on the stream (the API would refuse them). */
const invalid = take(generateOrders({ seed: 8, idPrefix: 'e2e-bad', invalid: 1 }), INVALID_RECORDS).map(
  (record) => record.event,
);

/** The field each kind of invalid record breaks (see the generator's invalid shapes). */
function brokenField(record: Record<string, unknown>): string {
  if (typeof record.ts !== 'number') return 'ts';
  if (!['paid', 'refunded', 'pending'].includes(String(record.status))) return 'status';
  return 'amount'; // negative, or missing
}

/**
 * The demo views over orders: this test sends orders only (page views: `catalogs-distinct.test.ts`). A
 * distinct measure's speed values are estimates, held to their bound there; here its exact batch values.
 */
const orderViews = views.filter((view) => view.events.name === 'order');
const exactInSpeed = (view: ViewDefinition) => !hasDistinctMeasure(view);

let runtime: Runtime;
let stop: () => Promise<void>;
let call: TestRuntime['call'];

/** The whole window the test's events fall in, aligned to the view's buckets. */
function windowOf(view: ViewDefinition) {
  const width = BUCKET_WIDTH_MS[view.time.bucket];
  const from = startedAt - 27 * HOUR;
  return { from: from - (from % width), to: Date.now() + width };
}

async function series(view: ViewDefinition): Promise<SeriesAnswer> {
  const { from, to } = windowOf(view);
  const answer = await call('GET', `/views/${view.name}/series?from=${from}&to=${to}`);
  expect(answer.status).toBe(200);
  return answer.body;
}

async function postEvents(events: readonly unknown[]) {
  let accepted = 0;
  for (let offset = 0; offset < events.length; offset += 500) {
    const answer = await call('POST', '/events', events.slice(offset, offset + 500));
    expect(answer.status).toBe(202);
    accepted += answer.body.accepted;
  }
  return accepted;
}

async function batchRun(): Promise<Map<string, number>> {
  const run = await batchRunThroughApi(call);
  for (const view of run.views) expect(view.committedByThisRun).toBe(true);
  return new Map(run.views.map((view: { view: string; watermark: number }) => [view.view, view.watermark]));
}

/** What the stream holds: its Kinesis records, and the events (user records) in them, packed or plain. */
async function onStream(): Promise<{ records: number; events: number; packed: number; bytes: number }> {
  const { kinesis } = runtime.emulators;
  const held = { records: 0, events: 0, packed: 0, bytes: 0 };
  const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: runtime.streamName }));
  for (const { ShardId } of Shards) {
    let { ShardIterator } = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: runtime.streamName,
        ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    while (ShardIterator !== undefined) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator }));
      for (const { Data = new Uint8Array() } of page.Records ?? []) {
        const events = unpackRecord(Data)?.length;
        held.records++;
        held.events += events ?? 1;
        held.packed += events === undefined ? 0 : 1;
        held.bytes += Data.length;
      }
      ShardIterator = page.Records?.length ? page.NextShardIterator : undefined;
    }
  }
  return held;
}

/** Waits for both consumers to read `events` events (user records, packed or plain). */
const consumed = (events: number) =>
  waitFor(
    () => runtime.speedConsumer.stats.records >= events && runtime.archiveConsumer.stats.records >= events,
    { timeoutMs: 40_000, what: `both consumers to read ${events} events` },
  );

// The runtime synthesizes the stack first: seconds, more on a busy machine.
beforeAll(async () => {
  ({ runtime, call, stop } = await startTestRuntime('e2e'));
}, 60_000);

afterAll(() => stop?.());

describe('the local pipeline end to end: 10,000 records, packed and plain, with duplicates, late and invalid ones', () => {
  let firstWatermarks: Map<string, number>;

  it('counts every accepted event in the speed layer, duplicates included, within seconds', async () => {
    expect(new Set(onTime.map((event) => event.id)).size).toBeLessThan(onTime.length);
    expect(await postEvents(onTime)).toBe(onTime.length);
    // Half plain records, half packed by another producer (in records of 2 KB, each with a few events).
    const userRecords = invalid.map((record, index) => ({
      partitionKey: String(record.id ?? `bad-${index}`),
      data: Buffer.from(JSON.stringify(record)),
    }));
    const half = INVALID_RECORDS / 2;
    const put = await runtime.emulators.kinesis.send(
      new PutRecordsCommand({
        StreamName: runtime.streamName,
        Records: [...userRecords.slice(0, half), ...packRecords(userRecords.slice(half), 2048)].map(
          ({ partitionKey, data }) => ({ PartitionKey: partitionKey, Data: data }),
        ),
      }),
    );
    expect(put.FailedRecordCount).toBe(0);

    for (const view of orderViews.filter(exactInSpeed)) {
      const { from, to } = windowOf(view);
      const speedTruth = expectedSeries(view, onTime, from, to);
      await waitFor(
        async () => {
          const body = await series(view);
          expect(body.watermark).toBe(0);
          expect(answeredSeries(body, from, to)).toEqual(speedTruth);
          return true;
        },
        { timeoutMs: 40_000, what: `${view.name}'s speed answers` },
      );
    }
  }, 60_000);

  it('serves exact buckets below the first watermark: duplicates removed, the invalid records left out', async () => {
    await consumed(onTime.length + INVALID_RECORDS);
    // The API packs what it is posted: far fewer Kinesis records than events, each read once.
    const held = await onStream();
    expect(held.events).toBe(onTime.length + INVALID_RECORDS);
    expect(held.records).toBeLessThan(held.events / 20);
    expect(runtime.speedConsumer.stats.kinesisRecords).toBe(held.records);
    console.log(
      `e2e stream: ${held.events} events in ${held.records} Kinesis records (${held.packed} packed), ${held.bytes} bytes`,
    );
    firstWatermarks = await batchRun();
    for (const view of orderViews) {
      const watermark = firstWatermarks.get(view.name) as number;
      const width = BUCKET_WIDTH_MS[view.time.bucket];
      // W moved from none to the newest bucket boundary settled (settle 0s: the current bucket's start).
      expect(watermark).toBeGreaterThan(startedAt - width);
      expect(watermark % width).toBe(0);
      const body = await series(view);
      expect(body.watermark).toBe(watermark);
      for (const bucket of body.buckets)
        expect(bucket.source).toBe(bucket.start < watermark ? 'batch' : 'speed');
      const { from, to } = windowOf(view);
      const exact = expectedSeries(view, deduplicateEvents(view, onTime), from, watermark);
      expect(exact.size).toBeGreaterThan(0);
      expect(answeredSeries(body, from, watermark)).toEqual(exact);
      if (exactInSpeed(view))
        expect(answeredSeries(body, watermark, to)).toEqual(expectedSeries(view, onTime, watermark, to));
    }
  }, 60_000);

  it('corrects late events in the next batch run, moving the watermark on', async () => {
    const before = new Map(
      await Promise.all(views.map(async (view) => [view.name, await series(view)] as const)),
    );
    expect(await postEvents(late)).toBe(late.length);
    await consumed(onTime.length + INVALID_RECORDS + late.length);
    // Counted by the speed layer in buckets below the watermark, which are served from the batch layer.
    for (const view of orderViews) {
      const watermark = firstWatermarks.get(view.name) as number;
      const { from } = windowOf(view);
      expect(answeredSeries(await series(view), from, watermark)).toEqual(
        answeredSeries(before.get(view.name) as SeriesAnswer, from, watermark),
      );
    }

    const watermarks = await batchRun();
    const all = [...onTime, ...late];
    for (const view of orderViews) {
      const watermark = watermarks.get(view.name) as number;
      expect(watermark).toBeGreaterThanOrEqual(firstWatermarks.get(view.name) as number);
      const { from } = windowOf(view);
      const body = await series(view);
      const exact = expectedSeries(view, deduplicateEvents(view, all), from, watermark);
      expect(answeredSeries(body, from, watermark)).toEqual(exact);
      const lateBuckets = expectedSeries(view, late, from, watermark);
      expect(lateBuckets.size).toBeGreaterThan(0);
      for (const key of lateBuckets.keys()) expect(answeredSeries(body, from, watermark).has(key)).toBe(true);
    }
  }, 60_000);

  it('lists every invalid record in quarantine with a reason naming the bad field', async () => {
    const answer = await call('GET', `/quarantine?limit=${INVALID_RECORDS * 2}`);
    expect(answer.status).toBe(200);
    expect(answer.body.total).toBe(INVALID_RECORDS);
    // Those put packed are listed one by one, each by its sub-sequence number in its record.
    const packed = answer.body.records.filter(
      (record: { subSequenceNumber?: number }) => record.subSequenceNumber !== undefined,
    );
    expect(packed).toHaveLength(INVALID_RECORDS / 2);
    const quarantined = new Map<string, string>(
      answer.body.records.map((record: { data: string; reason: string }) => [
        JSON.parse(Buffer.from(record.data, 'base64').toString()).id,
        record.reason,
      ]),
    );
    for (const record of invalid) {
      const reason = quarantined.get(String(record.id));
      expect(reason, `quarantined ${String(record.id)}`).toBeDefined();
      expect(reason).toContain(brokenField(record));
    }
  });
});
