import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aggregateRecords,
  MAX_PACKED_RECORD_BYTES,
  MalformedAggregatedRecordError,
  mayBeAggregated,
  packRecords,
  unpackRecord,
} from '../../functions/adapters/kinesis-aggregation';

const text = (value: string) => new TextEncoder().encode(value);
const order = (id: string) => ({ partitionKey: id, data: text(JSON.stringify({ id, amount: 100 })) });
/** What `unpackRecord` gives for a packed record, or the record itself for a plain one. */
const userRecordsOf = (record: { partitionKey: string; data: Uint8Array }) =>
  unpackRecord(record.data)?.map(({ partitionKey, data }) => ({ partitionKey, data })) ?? [
    { partitionKey: record.partitionKey, data: record.data },
  ];
const MAGIC = [0xf3, 0x89, 0x9a, 0xc2];

/**
 * Three user records ('order-1', 'order-2', 'order-1') as aws-kinesis-agg 4.2.8 (awslabs) aggregates
 * them: the format as its reference implementation writes it.
 */
const AWS_KINESIS_AGG_RECORD =
  '84mawgoHb3JkZXItMQoHb3JkZXItMhoUCAAaEHsiaWQiOiJvcmRlci0xIn0aFAgBGhB7ImlkIjoib3JkZXItMiJ9GhQIABoQeyJpZCI6Im9yZGVyLTEifShK5fevG4atdGtoqFsPMqM=';
const golden = ['order-1', 'order-2', 'order-1'].map((id) => ({
  partitionKey: id,
  data: text(`{"id":"${id}"}`),
}));

describe('the KPL aggregated record format', () => {
  it('packs user records into one record that unpacks to them, in order, with sub-sequence numbers', () => {
    // Prepare
    const records = ['a', 'b', 'c'].map(order);
    // Act
    const packed = packRecords(records);
    // Assess
    expect(packed).toHaveLength(1);
    expect(packed[0]?.partitionKey).toBe('a');
    expect(packed[0]?.userRecordIndexes).toEqual([0, 1, 2]);
    expect(unpackRecord(packed[0]?.data ?? new Uint8Array())).toEqual(
      records.map(({ data }, subSequenceNumber) => ({ subSequenceNumber, partitionKey: 'a', data })),
    );
  });

  it('gives a packed record one partition key, its own, for every user record in it', () => {
    // Prepare: a consumer that drops user records whose key hashes to another shard (the KCL does)
    // must find every event on the shard the record went to.
    const records = ['order-1', 'order-2', 'order-3'].map(order);
    // Act
    const [packed] = packRecords(records);
    // Assess
    expect(packed?.partitionKey).toBe('order-1');
    expect(unpackRecord(packed?.data ?? new Uint8Array())?.map((record) => record.partitionKey)).toEqual([
      'order-1',
      'order-1',
      'order-1',
    ]);
  });

  it('writes the bytes aws-kinesis-agg writes, and reads them', () => {
    // Act
    const packed = [{ data: aggregateRecords(golden) }];
    const unpacked = unpackRecord(Buffer.from(AWS_KINESIS_AGG_RECORD, 'base64'));
    // Assess
    expect(Buffer.from(packed[0]?.data ?? []).toString('base64')).toBe(AWS_KINESIS_AGG_RECORD);
    expect(unpacked?.map(({ partitionKey, data }) => ({ partitionKey, data }))).toEqual(golden);
  });

  it('tells a plain record from a packed one on its base64 text, without decoding it', () => {
    // Prepare
    const [packed] = packRecords(['a', 'b'].map(order));
    // Act, Assess
    expect(mayBeAggregated(Buffer.from(packed?.data ?? []).toString('base64'))).toBe(true);
    expect(mayBeAggregated(Buffer.from('{"id":"a"}').toString('base64'))).toBe(false);
  });

  it('reads a plain record (one event, no magic) as none: null', () => {
    // Act, Assess
    expect(unpackRecord(text('{"id":"a"}'))).toBeNull();
    expect(unpackRecord(new Uint8Array())).toBeNull();
  });

  it('puts a lone user record as a plain record, its data as is', () => {
    // Prepare
    const record = order('a');
    // Act
    const packed = packRecords([record]);
    // Assess
    expect(packed).toEqual([{ partitionKey: 'a', data: record.data, userRecordIndexes: [0] }]);
  });

  it('packs a lone user record whose data starts with the magic, so it is not misread', () => {
    // Prepare
    const data = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2, 1, 2, 3);
    // Act
    const packed = packRecords([{ partitionKey: 'a', data }]);
    // Assess
    expect(packed).toHaveLength(1);
    expect(unpackRecord(packed[0]?.data ?? new Uint8Array())).toEqual([
      { subSequenceNumber: 0, partitionKey: 'a', data },
    ]);
  });

  it('refuses a record with the magic and a wrong checksum, naming it', () => {
    // Prepare
    const data = Buffer.from(AWS_KINESIS_AGG_RECORD, 'base64');
    data[10] = (data[10] ?? 0) ^ 1;
    // Act, Assess
    expect(() => unpackRecord(data)).toThrow(MalformedAggregatedRecordError);
    expect(() => unpackRecord(data)).toThrow(/checksum/);
  });

  it.each([
    ['shorter than its checksum', Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2, 1, 2), /too short/],
    [
      'an undecodable message with a right checksum',
      withChecksum(Uint8Array.of(0x1a, 0x05, 1)),
      /not decodable/,
    ],
    [
      'a user record naming a partition key the table lacks',
      withChecksum(Uint8Array.of(0x1a, 0x04, 0x08, 0x03, 0x1a, 0x00)),
      /names no partition key/,
    ],
  ])('refuses a record with the magic that is %s', (_, data, reason) => {
    // Act, Assess
    expect(() => unpackRecord(data)).toThrow(MalformedAggregatedRecordError);
    expect(() => unpackRecord(data)).toThrow(reason);
  });

  it('puts a user record over the limit alone, as a plain record, between packed ones', () => {
    // Prepare
    const big = { partitionKey: 'big', data: new Uint8Array(MAX_PACKED_RECORD_BYTES + 1).fill(0x7b) };
    const records = [order('a'), order('b'), big, order('c'), order('d')];
    // Act
    const packed = packRecords(records);
    // Assess
    expect(packed.map((record) => record.userRecordIndexes)).toEqual([[0, 1], [2], [3, 4]]);
    expect(packed[1]).toEqual({ partitionKey: 'big', data: big.data, userRecordIndexes: [2] });
    expect(packed.flatMap(userRecordsOf).map(({ data }) => data)).toEqual(records.map(({ data }) => data));
  });

  it('fills records up to the limit: 1,000 small events in a few 25,000-byte records', () => {
    // Prepare
    const records = Array.from({ length: 1_000 }, (_, index) => order(`order-${index}`));
    // Act
    const packed = packRecords(records);
    // Assess
    const sizes = packed.map((record) => record.data.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_PACKED_RECORD_BYTES);
    expect(sizes.slice(0, -1).every((size) => size > MAX_PACKED_RECORD_BYTES - 100)).toBe(true);
  });

  it('unpacks what it packs, in order, with no packed record over the limit (property)', () => {
    const arbUserRecord = fc.record({
      partitionKey: fc.string({ minLength: 1, maxLength: 256, unit: 'grapheme' }),
      data: fc.uint8Array({ maxLength: 600 }),
    });
    fc.assert(
      fc.property(
        fc.array(arbUserRecord, { maxLength: 200 }),
        fc.integer({ min: 40, max: 4_000 }),
        (records, maxBytes) => {
          // Act
          const packed = packRecords(records, maxBytes);
          // Assess
          expect(packed.flatMap(userRecordsOf).map(({ data }) => data)).toEqual(
            records.map(({ data }) => data),
          );
          expect(packed.flatMap((record) => record.userRecordIndexes)).toEqual(
            records.map((_, index) => index),
          );
          for (const record of packed) {
            const [first] = record.userRecordIndexes;
            expect(record.partitionKey).toBe(records[first ?? -1]?.partitionKey);
            for (const user of unpackRecord(record.data) ?? [])
              expect(user.partitionKey).toBe(record.partitionKey);
            // Over the limit only when one user record alone does not fit: it goes plain, or packed alone
            // if its data starts with the magic.
            if (record.data.length > maxBytes) {
              expect(record.userRecordIndexes).toHaveLength(1);
              const data = records[first ?? -1]?.data ?? new Uint8Array();
              if (unpackRecord(record.data) === null) expect(data.length).toBeGreaterThan(maxBytes);
              else expect([...data.subarray(0, 4)]).toEqual(MAGIC);
            }
            // Each sub-sequence number is the user record's index in its packed record.
            unpackRecord(record.data)?.forEach(({ subSequenceNumber }, index) => {
              expect(subSequenceNumber).toBe(index);
            });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** A message framed as an aggregated record: magic, message, its MD5. */
function withChecksum(message: Uint8Array): Uint8Array {
  return Buffer.concat([Uint8Array.from(MAGIC), message, createHash('md5').update(message).digest()]);
}
