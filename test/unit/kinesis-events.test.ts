import { KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_PACKED_RECORD_BYTES, unpackRecord } from '../../functions/adapters/kinesis-aggregation';
import {
  KinesisEventSink,
  MAX_BYTES_PER_PUT,
  MAX_RECORDS_PER_PUT,
} from '../../functions/adapters/kinesis-events';

const kinesis = mockClient(KinesisClient);
const eventsOf = (ids: readonly string[], padding = '') =>
  ids.map((id) => ({ partitionKey: id, data: JSON.stringify({ id, padding }) }));
/** Room for two of these events in a packed record, not three. */
const TWO_EVENTS_BYTES = 100;
/** The events a put record carries: its user records, or itself when plain. */
const idsIn = (record: PutRecordsRequestEntry) =>
  (unpackRecord(record.Data ?? new Uint8Array()) ?? [{ data: record.Data ?? new Uint8Array() }]).map(
    ({ data }) => JSON.parse(Buffer.from(data).toString('utf8')).id,
  );
const putRecords = () =>
  kinesis.commandCalls(PutRecordsCommand).map((call) => call.args[0].input.Records ?? []);

describe('the Kinesis event sink', () => {
  beforeEach(() => kinesis.reset());

  it('packs events, in order, into aggregated records within the size limit, keyed by their first event', async () => {
    // Prepare
    kinesis.on(PutRecordsCommand).callsFake(({ Records }) => ({
      Records: Records.map((_: unknown, index: number) => ({ SequenceNumber: String(index) })),
    }));
    const events = eventsOf(
      Array.from({ length: 500 }, (_, index) => `order-${index}`),
      'x'.repeat(150),
    );
    // Act
    const failed = await new KinesisEventSink(new KinesisClient({}), 'events').put(events);
    // Assess
    expect(failed.size).toBe(0);
    const [records = []] = putRecords();
    expect(records.length).toBeGreaterThan(1);
    expect(records.length).toBeLessThan(10);
    expect(records.flatMap(idsIn)).toEqual(events.map((event) => event.partitionKey));
    for (const record of records) {
      expect(record.Data?.length).toBeLessThanOrEqual(MAX_PACKED_RECORD_BYTES);
      expect(record.PartitionKey).toBe(idsIn(record)[0]);
    }
  });

  it('retries only the packed records PutRecords refused, and reports every event of one never put by its index', async () => {
    // Prepare
    kinesis
      .on(PutRecordsCommand)
      .resolvesOnce({
        Records: [
          { SequenceNumber: '1' },
          { ErrorCode: 'ProvisionedThroughputExceededException' },
          { SequenceNumber: '2' },
        ],
      })
      .resolves({
        Records: [{ ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' }],
      });
    const events = eventsOf(['a', 'b', 'c', 'd', 'e', 'f']);
    // Act
    const failed = await new KinesisEventSink(new KinesisClient({}), 'events', 2, TWO_EVENTS_BYTES).put(
      events,
    );
    // Assess
    expect([...failed]).toEqual([
      [2, 'ProvisionedThroughputExceededException: slow down'],
      [3, 'ProvisionedThroughputExceededException: slow down'],
    ]);
    expect(putRecords().map((records) => records.flatMap(idsIn))).toEqual([
      ['a', 'b', 'c', 'd', 'e', 'f'],
      ['c', 'd'],
    ]);
  });

  it('reports the events still pending when a whole call fails, keeping those an earlier attempt put', async () => {
    // Prepare
    kinesis
      .on(PutRecordsCommand)
      .resolvesOnce({
        Records: [{ ErrorCode: 'InternalFailure' }, { SequenceNumber: '1' }, { SequenceNumber: '2' }],
      })
      .rejects(new Error('socket hang up'));
    const events = eventsOf(['a', 'b', 'c', 'd', 'e', 'f']);
    // Act
    const failed = await new KinesisEventSink(new KinesisClient({}), 'events', 4, TWO_EVENTS_BYTES).put(
      events,
    );
    // Assess
    expect([...failed.keys()]).toEqual([0, 1]);
    expect(failed.get(0)).toContain('socket hang up');
  });

  it.each([
    ['500 records', 1_001, '', [500, 500, 1]],
    ['5 MiB', 600, 'x'.repeat(20_000), [261, 261, 78]],
  ])('keeps each PutRecords call within %s', async (_, count, padding, callSizes) => {
    // Prepare
    kinesis.on(PutRecordsCommand).callsFake(({ Records }) => ({
      Records: Records.map((_: unknown, index: number) => ({ SequenceNumber: String(index) })),
    }));
    // A limit that fits one event a record: every event its own record.
    const events = eventsOf(
      Array.from({ length: count }, (_, index) => `order-${index}`),
      padding,
    );
    // Act
    const failed = await new KinesisEventSink(new KinesisClient({}), 'events', 4, 60).put(events);
    // Assess
    expect(failed.size).toBe(0);
    const calls = putRecords();
    expect(calls.map((records) => records.length)).toEqual(callSizes);
    for (const records of calls) {
      expect(records.length).toBeLessThanOrEqual(MAX_RECORDS_PER_PUT);
      const bytes = records.reduce(
        (sum, record) => sum + (record.Data?.length ?? 0) + Buffer.byteLength(record.PartitionKey ?? ''),
        0,
      );
      expect(bytes).toBeLessThanOrEqual(MAX_BYTES_PER_PUT);
    }
    expect(calls.flat().flatMap(idsIn)).toEqual(events.map((event) => event.partitionKey));
  });
});
