import type { KinesisStreamRecord } from 'aws-lambda';

/** The stream and role Lambda names in each record it delivers. */
export interface KinesisRecordSource {
  readonly streamArn: string;
  readonly roleArn: string;
}

/**
 * One Kinesis record as Lambda's event source mapping delivers it: data base64-encoded, arrival in epoch
 * seconds, the event id `<shard>:<sequence>`. The local consumer, the benchmarks, the cost measurement and
 * the tests build records with this one shape.
 */
export function lambdaKinesisRecord(
  source: KinesisRecordSource,
  record: {
    readonly shardId: string;
    readonly sequenceNumber: string;
    readonly partitionKey: string;
    readonly data: Uint8Array;
    readonly arrivalMs: number;
  },
): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.partitionKey,
      sequenceNumber: record.sequenceNumber,
      data: Buffer.from(record.data).toString('base64'),
      approximateArrivalTimestamp: record.arrivalMs / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${record.shardId}:${record.sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: source.roleArn,
    // The region is the stream's: arn:aws:kinesis:<region>:<account>:stream/<name>.
    awsRegion: source.streamArn.split(':')[3] as string,
    eventSourceARN: source.streamArn,
  };
}
