import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { aggregateRecords } from '../../functions/adapters/kinesis-aggregation';
import { lambdaKinesisRecord } from '../../local/lambda-kinesis-record';

const TEST_STREAM = {
  streamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/driftless-events',
  roleArn: 'arn:aws:iam::123456789012:role/speed',
};

const SEQUENCE_BASE = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n;

/** The n-th sequence number of a test shard: 56 digits, increasing, like Kinesis's. */
export const sequenceNumber = (n: number): string => (SEQUENCE_BASE + BigInt(n) * 7n).toString();

/** A record as Lambda delivers it from Kinesis: data (text is UTF-8) base64-encoded, arrival in epoch seconds. */
export function kinesisRecord(options: {
  shardId: string;
  sequenceNumber: string;
  data: string | Uint8Array;
  partitionKey?: string;
  arrivalMs?: number;
}): KinesisStreamRecord {
  return lambdaKinesisRecord(TEST_STREAM, {
    shardId: options.shardId,
    sequenceNumber: options.sequenceNumber,
    partitionKey: options.partitionKey ?? 'pk',
    data: typeof options.data === 'string' ? Buffer.from(options.data, 'utf8') : options.data,
    arrivalMs: options.arrivalMs ?? Date.UTC(2026, 10, 25, 12),
  });
}

export const kinesisEvent = (records: KinesisStreamRecord[]): KinesisStreamEvent => ({ Records: records });

/** The data of one packed (KPL aggregated) record holding these events (UTF-8), each keyed by its index. */
export const packedData = (events: readonly string[]): Uint8Array =>
  aggregateRecords(events.map((event, index) => ({ partitionKey: `e${index}`, data: Buffer.from(event) })));
