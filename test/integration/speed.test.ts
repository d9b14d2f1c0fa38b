import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  paginateScan,
} from '@aws-sdk/client-dynamodb';
import type { KinesisStreamRecord } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { catalogs, orderEvents } from '../../events';
import { DynamoSpeedStore } from '../../functions/adapters/dynamo-speed-store';
import { FileObjectStore } from '../../functions/adapters/object-store';
import { defineView, fieldsOf, max, min, sum, type ViewDefinition, type ViewRow } from '../../functions/core';
import { SpeedProcessor } from '../../functions/speed/processor';
import { Quarantine } from '../../functions/speed/quarantine';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators';
import { views as demoViews } from '../../views';
import { arbOrderEvents, DAY_ZERO, type RawEvent } from '../support/arbitraries';
import { quietLogger, quietMetrics, startFixture } from '../support/fixture';
import { kinesisEvent, kinesisRecord, packedData, sequenceNumber } from '../support/kinesis-factory';
import { expectedSpeedRows } from '../support/speed-rows';

const SCHEDULES = Number(process.env.DRIFTLESS_SPEED_SCHEDULES ?? 100);
/** fast-check's seed, to replay a failing run (it prints the seed); random when not set. */
const SEED =
  process.env.DRIFTLESS_SPEED_SEED === undefined ? undefined : Number(process.env.DRIFTLESS_SPEED_SEED);
// About 0.15 s a schedule on two cores; the margin covers a machine busy with other test files.
vi.setConfig({ testTimeout: Math.max(300_000, SCHEDULES * 600) });

const order = fieldsOf(orderEvents);
/** A view with every measure kind, so min and max are held to exactly-once too. */
const spread = defineView(orderEvents, {
  name: 'amount_spread',
  version: 1,
  bucket: 'minute',
  groupBy: ['country'],
  measures: { total: sum(order.amount), smallest: min(order.amount), largest: max(order.amount) },
});
const views: ViewDefinition[] = [...demoViews, spread];

let fixture: Awaited<ReturnType<typeof startFixture>>;
beforeAll(async () => {
  fixture = await startFixture();
});
afterAll(() => fixture.close());

/** A DynamoDB client whose UpdateItem calls fail with throttling while `throttle` says so. */
function throttledClient(throttle: (pk: string) => boolean): DynamoDBClient {
  const client = new DynamoDBClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint: fixture.dynamoEndpoint,
    maxAttempts: 1,
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Key?: { pk?: { S?: string } } };
      if (context.commandName === 'UpdateItemCommand' && throttle(input.Key?.pk?.S ?? '')) {
        throw new ProvisionedThroughputExceededException({ message: 'injected throttling', $metadata: {} });
      }
      return next(args);
    },
    { step: 'initialize', name: 'injectThrottling' },
  );
  return client;
}

/** Record data: the event's JSON, or for a poison record, bytes that are not JSON at all. */
const arbRecordData = (event: RawEvent) =>
  fc.oneof(
    { weight: 19, arbitrary: fc.constant(JSON.stringify(event)) },
    { weight: 1, arbitrary: fc.constant('{"id": "tru') },
  );

/**
 * How consecutive events go on the stream: each one its own plain record, all in one packed (KPL
 * aggregated) record, or in a packed record whose checksum is wrong (quarantined whole).
 */
type Packing = 'plain' | 'packed' | 'corrupt';
const arbPacking = fc.oneof(
  { weight: 10, arbitrary: fc.constant<Packing>('plain') },
  { weight: 10, arbitrary: fc.constant<Packing>('packed') },
  { weight: 1, arbitrary: fc.constant<Packing>('corrupt') },
);

/** The Kinesis records the events make, in order: each with its data and the events it carries. */
function kinesisRecordsOf(
  data: readonly string[],
  groupSizes: readonly number[],
  packings: readonly Packing[],
): { data: string | Uint8Array; events: string[]; packing: Packing }[] {
  const records: { data: string | Uint8Array; events: string[]; packing: Packing }[] = [];
  for (let start = 0, group = 0; start < data.length; group++) {
    const events = data.slice(start, start + (groupSizes[group % groupSizes.length] ?? 1));
    start += events.length;
    const packing = packings[group % packings.length] ?? 'plain';
    if (packing === 'plain') {
      for (const event of events) records.push({ data: event, events: [event], packing });
      continue;
    }
    const packed = packedData(events);
    // A flipped bit in the MD5: the record has the magic but does not decode.
    if (packing === 'corrupt') packed[packed.length - 1] = (packed[packed.length - 1] ?? 0) ^ 1;
    records.push({ data: packed, events, packing });
  }
  return records;
}

const arbSchedule = fc
  .tuple(arbOrderEvents({ maxLength: 80 }), fc.integer({ min: 1, max: 3 }))
  .chain(([events, shardCount]) =>
    fc.record({
      data: fc.tuple(...events.map(arbRecordData)),
      /** Events per group, cycled: a packed group is one Kinesis record, a plain one a record per event. */
      groupSizes: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 10 }),
      packings: fc.array(arbPacking, { minLength: 1, maxLength: 10 }),
      /** The shard of each Kinesis record (cycled). */
      shardOf: fc.array(fc.nat(shardCount - 1), { minLength: 1, maxLength: events.length + 1 }),
      batchSizes: fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 10 }),
      /** For each invocation: deliver it a second time (at-least-once). */
      duplicates: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
      /** Which shard moves next. */
      turns: fc.array(fc.nat(shardCount - 1), { minLength: 40, maxLength: 40 }),
      /** Throttle writes to these partitions for the first N write attempts. */
      throttledDays: fc.subarray(['2026-11-25', '2026-11-26']),
      throttleBudget: fc.nat(25),
      shardCount: fc.constant(shardCount),
    }),
  );

describe('speed layer: exactly-once counters on at-least-once delivery', () => {
  it('reads a table as soon as the fixture made it, as a schedule with no records does', async () => {
    // Prepare: dynalite answered CreateTable before the table was ACTIVE, so a read right after it
    // failed now and then (ResourceNotFoundException); many tables make that near certain.
    const [view] = views;
    if (view === undefined) throw new Error('no views');
    for (let attempt = 0; attempt < 100; attempt++) {
      // Act
      const table = await fixture.newTable();
      const rows = await new DynamoSpeedStore(fixture.dynamo, table).readRows(view, DAY_ZERO, DAY_ZERO + DAY);
      // Assess
      expect(rows).toEqual([]);
    }
  });

  it(`ends with the JS reducer's counters, each event once, for random packed and plain records and batch, duplicate, partial-failure and throttling schedules (${SCHEDULES} schedules)`, async () => {
    let totalInvocations = 0;
    let totalRetries = 0;
    let totalEvents = 0;
    let totalRecords = 0;
    let totalPacked = 0;
    await fc.assert(
      fc.asyncProperty(arbSchedule, async (schedule) => {
        // Prepare
        const table = await fixture.newTable();
        const dir = await mkdtemp(join(tmpdir(), 'driftless-quarantine-'));
        let budget = schedule.throttleBudget;
        const client = throttledClient((pk) => {
          if (budget <= 0 || !schedule.throttledDays.some((day) => pk.endsWith(day))) return false;
          budget--;
          return true;
        });
        const quarantine = new Quarantine(new FileObjectStore(dir));
        const processor = new SpeedProcessor({
          catalogs,
          views,
          store: new DynamoSpeedStore(client, table),
          quarantine,
          logger: quietLogger(),
          metrics: quietMetrics(),
          retentionMs: 72 * 3_600_000,
        });
        const shards: KinesisStreamRecord[][] = Array.from({ length: schedule.shardCount }, () => []);
        const records = kinesisRecordsOf(schedule.data, schedule.groupSizes, schedule.packings);
        records.forEach(({ data }, index) => {
          const shard = schedule.shardOf[index % schedule.shardOf.length] ?? 0;
          shards[shard]?.push(
            kinesisRecord({
              shardId: `shardId-00000000000${shard}`,
              sequenceNumber: sequenceNumber(index),
              data,
            }),
          );
        });
        totalRecords += records.length;
        totalPacked += records.filter(({ packing }) => packing !== 'plain').length;
        totalEvents += schedule.data.length;
        // Act: Lambda's loop per shard, with redeliveries and retries from the reported record
        const positions = shards.map(() => 0);
        let step = 0;
        while (positions.some((position, shard) => position < (shards[shard]?.length ?? 0))) {
          const open = positions.flatMap((position, shard) =>
            position < (shards[shard]?.length ?? 0) ? [shard] : [],
          );
          const shard = open[(schedule.turns[step % 40] ?? 0) % open.length] ?? 0;
          const records = shards[shard] ?? [];
          const size = schedule.batchSizes[step % schedule.batchSizes.length] ?? 1;
          const batch = records.slice(positions[shard], (positions[shard] ?? 0) + size);
          const response = await processor.process(kinesisEvent(batch));
          if (schedule.duplicates[step % 40]) await processor.process(kinesisEvent(batch));
          totalInvocations++;
          const failed = response.batchItemFailures[0]?.itemIdentifier;
          if (failed === undefined) positions[shard] = (positions[shard] ?? 0) + batch.length;
          else {
            totalRetries++;
            const index = records.findIndex((record) => record.kinesis.sequenceNumber === failed);
            expect(index).toBeGreaterThanOrEqual(positions[shard] ?? 0);
            positions[shard] = index;
          }
          step++;
          expect(step).toBeLessThan(10_000);
        }
        // Assess: counters equal the reducer over every valid event of a record that decodes (duplicates
        // by id included)
        const readable = records.flatMap(({ events, packing }) => (packing === 'corrupt' ? [] : events));
        const valid = readable.flatMap((data) => {
          try {
            const parsed = orderEvents.parse(JSON.parse(data));
            return parsed.ok ? [parsed.event] : [];
          } catch {
            return [];
          }
        });
        const reader = new DynamoSpeedStore(fixture.dynamo, table);
        const times = valid.map((event) => event.ts);
        const earliest = Math.min(DAY_ZERO, ...times);
        // Only the days events fall in: an event at ts 0 would otherwise mean a query per day since 1970.
        const ranges = dayRanges([DAY_ZERO, ...times]);
        let expectedItems = 0;
        for (const view of views) {
          // The events are orders: a view of another catalog counts none. A distinct count reads as the
          // estimate of the sketch of its values, each once.
          const expected = view.events.name === orderEvents.name ? expectedSpeedRows(view, valid) : [];
          expectedItems += expected.length;
          const stored: ViewRow[] = [];
          // Read "as of" the earliest event, before any TTL could have passed.
          for (const [from, to] of ranges) stored.push(...(await reader.readRows(view, from, to, earliest)));
          expect(sortRows(stored), view.name).toEqual(expected);
        }
        // And nothing on the days not read: the table holds exactly the expected counters.
        expect(await countItems(fixture.dynamo, table)).toBe(expectedItems);
        // Each invalid event once (alone, by its sub-sequence number, when packed); a corrupt record whole.
        const quarantined = await quarantine.list();
        const corrupt = records.filter(({ packing }) => packing === 'corrupt').length;
        expect(quarantined).toHaveLength(readable.length - valid.length + corrupt);
        for (const record of quarantined)
          expect(record.reason).toMatch(
            record.subSequenceNumber === undefined
              ? /^(not JSON|fails the order schema|aggregated record with a wrong MD5 checksum)/
              : /^(not JSON|fails the order schema)/,
          );
        client.destroy();
        await rm(dir, { recursive: true, force: true });
      }),
      { numRuns: SCHEDULES, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
    console.log(
      `speed schedules: ${SCHEDULES}, events: ${totalEvents} in ${totalRecords} Kinesis records (${totalPacked} packed), invocations: ${totalInvocations}, retries from a reported record: ${totalRetries}`,
    );
    expect(totalRetries).toBeGreaterThan(0);
    expect(totalPacked).toBeGreaterThan(0);
    expect(totalPacked).toBeLessThan(totalRecords);
  });
});

function sortRows(rows: ViewRow[]): ViewRow[] {
  const key = (row: ViewRow) => `${String(row.bucket).padStart(15, '0')}|${JSON.stringify(row.group)}`;
  return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

const DAY = 86_400_000;

/** The days the times fall in, as contiguous [from, to) ranges. */
function dayRanges(times: readonly number[]): [number, number][] {
  const days = [...new Set(times.map((time) => time - (time % DAY)))].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const day of days) {
    const last = ranges.at(-1);
    if (last !== undefined && last[1] >= day) last[1] = day + DAY;
    else ranges.push([day, day + DAY]);
  }
  return ranges;
}

async function countItems(dynamo: DynamoDBClient, table: string): Promise<number> {
  let count = 0;
  for await (const page of paginateScan({ client: dynamo }, { TableName: table, Select: 'COUNT' }))
    count += page.Count ?? 0;
  return count;
}
