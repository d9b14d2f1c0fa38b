import { createHash } from 'node:crypto';
import protobuf from 'protobufjs/light.js';

/**
 * The KPL aggregated record format: many user records in one Kinesis record, so that the per-record
 * minimums Kinesis (1 KB) and Firehose (5 KB) bill are paid once per packed record, not per event.
 * Spec: https://github.com/awslabs/amazon-kinesis-producer/blob/master/aggregation-format.md
 *
 *   data = magic (F3 89 9A C2) ++ protobuf AggregatedRecord ++ MD5(protobuf AggregatedRecord)
 *
 * Firehose de-aggregates these itself when its source is a Kinesis stream, and the KCL and Lambda
 * consumers that use the KPL's deaggregation read them; a plain record (one event) stays valid too.
 */

const MAGIC = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);
/** The base64 text an aggregated record's data starts with: the magic's first three bytes, four characters. */
const MAGIC_BASE64_PREFIX = Buffer.from(MAGIC.subarray(0, 3)).toString('base64');

/**
 * Whether base64 data may hold an aggregated record: false tells a plain record without decoding it, on
 * the speed handler's per-record path; true still needs `unpackRecord`.
 */
export const mayBeAggregated = (base64: string): boolean => base64.startsWith(MAGIC_BASE64_PREFIX);
const CHECKSUM_BYTES = 16;

/** The spec's `.proto`, as protobufjs's JSON descriptor (proto2: `data` is required). */
const { AggregatedRecord } = protobuf.Root.fromJSON({
  nested: {
    AggregatedRecord: {
      fields: {
        partitionKeyTable: { rule: 'repeated', type: 'string', id: 1 },
        explicitHashKeyTable: { rule: 'repeated', type: 'string', id: 2 },
        records: { rule: 'repeated', type: 'Record', id: 3 },
      },
    },
    Tag: {
      fields: {
        key: { rule: 'required', type: 'string', id: 1 },
        value: { rule: 'optional', type: 'string', id: 2 },
      },
    },
    Record: {
      fields: {
        partitionKeyIndex: { rule: 'required', type: 'uint64', id: 1 },
        explicitHashKeyIndex: { rule: 'optional', type: 'uint64', id: 2 },
        data: { rule: 'required', type: 'bytes', id: 3 },
        tags: { rule: 'repeated', type: 'Tag', id: 4 },
      },
    },
  },
}).nested as unknown as { AggregatedRecord: protobuf.Type };

/**
 * The most data bytes a packed record takes: 25,000, one PUT payload unit of a provisioned stream ("a
 * 1 MB record is 40 units": decimal KB) and a multiple of the 1 KB (Kinesis on-demand) and 5 KB
 * (Firehose) billing steps whether AWS means 1,000 or 1,024 bytes, so a full record is billed for what
 * it holds. About 170 demo orders (126 bytes, keyed by their ids) fill one: the per-record
 * minimums are already paid 170 times less often, and a bigger record (the KPL's default is 50 KiB)
 * would save almost nothing more. Smaller records keep what a bigger one would cost: a failed put or a
 * retried record is redone whole, each record lands on one shard (a 500-event `POST /events` still
 * spreads over several), and a Lambda batch, capped at 6 MB of payload (~180 such records), still
 * bisects to small pieces.
 */
export const MAX_PACKED_RECORD_BYTES = 25_000;

/** One record to put: a partition key and its data. */
export interface UserRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

/** A Kinesis record to put, and which of the user records given to `packRecords` it carries. */
export interface PackedRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
  readonly userRecordIndexes: number[];
}

/** A user record read out of a Kinesis record: its position in the record, its key and data. */
export interface UnpackedRecord {
  readonly subSequenceNumber: number;
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

/** A record that starts with the aggregation magic but is not a valid aggregated record. */
export class MalformedAggregatedRecordError extends Error {
  override readonly name = 'MalformedAggregatedRecordError';
}

const varintBytes = (value: number): number => {
  let bytes = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) bytes++;
  return bytes;
};

/** A length-delimited field (tag 1 to 15) of `length` bytes, as protobuf writes it. */
const delimitedBytes = (length: number): number => 1 + varintBytes(length) + length;

const hasMagic = (data: Uint8Array): boolean =>
  data.length >= MAGIC.length && MAGIC.every((byte, index) => data[index] === byte);

/**
 * The data of one aggregated record holding these user records, whatever their size: the magic, the
 * message, its MD5. `packRecords` splits by size first; this is for a producer (or a test) that packs
 * its own.
 */
export function aggregateRecords(records: readonly UserRecord[]): Uint8Array {
  const keyIndex = new Map<string, number>();
  const entries = records.map(({ partitionKey, data }) => {
    let index = keyIndex.get(partitionKey);
    if (index === undefined) {
      index = keyIndex.size;
      keyIndex.set(partitionKey, index);
    }
    return { partitionKeyIndex: index, data };
  });
  const message = AggregatedRecord.encode(
    AggregatedRecord.create({ partitionKeyTable: [...keyIndex.keys()], records: entries }),
  ).finish();
  const checksum = createHash('md5').update(message).digest();
  const packed = new Uint8Array(MAGIC.length + message.length + CHECKSUM_BYTES);
  packed.set(MAGIC, 0);
  packed.set(message, MAGIC.length);
  packed.set(checksum, MAGIC.length + message.length);
  return packed;
}

/**
 * Packs user records, in order, into Kinesis records of at most `maxBytes` of data each. A group of one
 * goes as a plain record (its data as is), unless its data starts with the magic and would be misread;
 * a user record that alone exceeds `maxBytes` goes plain (packed alone if it starts with the magic). A
 * packed record has ONE partition key, its first user record's, for itself and every user record in it:
 * the KPL never packs records bound for different shards, and KCL-style consumers drop the user records
 * whose key hashes outside the shard the record arrived on (awslabs/kinesis-aggregation issues 11 and
 * 32), so a key per user record could lose events in any consumer that filters so. Keys are event ids,
 * so records still spread over shards.
 */
export function packRecords(
  userRecords: readonly UserRecord[],
  maxBytes: number = MAX_PACKED_RECORD_BYTES,
): PackedRecord[] {
  const packed: PackedRecord[] = [];
  let group: number[] = [];
  let size = MAGIC.length + CHECKSUM_BYTES;
  const close = () => {
    const first = userRecords[group[0] ?? -1];
    if (first === undefined) return;
    const plain = group.length === 1 && !hasMagic(first.data);
    const { partitionKey } = first;
    packed.push({
      partitionKey,
      data: plain
        ? first.data
        : aggregateRecords(
            group.map((index) => ({ partitionKey, data: (userRecords[index] as UserRecord).data })),
          ),
      userRecordIndexes: group,
    });
    group = [];
    size = MAGIC.length + CHECKSUM_BYTES;
  };
  // The bytes a user record adds to the group: the one key in the table (if it opens the group), and its
  // Record (key index 0, data).
  const bytesAdded = ({ partitionKey, data }: UserRecord): number => {
    const keyBytes = group.length === 0 ? delimitedBytes(Buffer.byteLength(partitionKey, 'utf8')) : 0;
    return keyBytes + delimitedBytes(1 + varintBytes(0) + delimitedBytes(data.length));
  };
  userRecords.forEach((record, index) => {
    let added = bytesAdded(record);
    if (group.length > 0 && size + added > maxBytes) {
      close();
      added = bytesAdded(record);
    }
    group.push(index);
    size += added;
    // Alone over the limit: it goes now, on its own.
    if (size > maxBytes) close();
  });
  close();
  return packed;
}

/** A uint64 as decoded: a number, or a Long when the `long` package is present. */
const toNumber = (value: number | protobuf.Long): number =>
  typeof value === 'number' ? value : protobuf.util.LongBits.from(value).toNumber(true);

interface DecodedRecord {
  partitionKeyTable: string[];
  records: { partitionKeyIndex: number | protobuf.Long; data: Uint8Array }[];
}

/**
 * The user records of a Kinesis record's data, in order with their sub-sequence numbers; null when the
 * data is a plain record (no magic). Throws `MalformedAggregatedRecordError` when the data has the magic
 * but a wrong checksum or an undecodable message: the record is to be quarantined whole.
 */
export function unpackRecord(data: Uint8Array): UnpackedRecord[] | null {
  if (!hasMagic(data)) return null;
  if (data.length < MAGIC.length + CHECKSUM_BYTES)
    throw new MalformedAggregatedRecordError(`aggregated record of ${data.length} bytes: too short`);
  const message = data.subarray(MAGIC.length, data.length - CHECKSUM_BYTES);
  const checksum = createHash('md5').update(message).digest();
  if (!checksum.equals(data.subarray(data.length - CHECKSUM_BYTES)))
    throw new MalformedAggregatedRecordError('aggregated record with a wrong MD5 checksum');
  let decoded: DecodedRecord;
  try {
    decoded = AggregatedRecord.decode(message) as unknown as DecodedRecord;
  } catch (error) {
    throw new MalformedAggregatedRecordError(`aggregated record not decodable: ${(error as Error).message}`);
  }
  return decoded.records.map((record, subSequenceNumber) => {
    const partitionKey = decoded.partitionKeyTable[toNumber(record.partitionKeyIndex)];
    if (partitionKey === undefined)
      throw new MalformedAggregatedRecordError(
        `aggregated record's user record ${subSequenceNumber} names no partition key`,
      );
    // A view of the message's bytes (protobufjs gives a Buffer in Node), not a copy.
    const { buffer, byteOffset, byteLength } = record.data;
    return { subSequenceNumber, partitionKey, data: new Uint8Array(buffer, byteOffset, byteLength) };
  });
}
