import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type {
  FirehoseTransformationEvent,
  FirehoseTransformationResult,
  KinesisStreamEvent,
} from 'aws-lambda';
import type { ArchiveCompleteness } from '../functions/adapters/archive-completeness';
import type { ObjectStore } from '../functions/adapters/object-store';
import { shardIdOf, toStreamRecord, userRecordsOf } from '../functions/speed/processor';
import type { KinesisConsumer } from './kinesis-consumer';
import type { DeliverySettings } from './template';

export type FirehoseTransform = (event: FirehoseTransformationEvent) => Promise<FirehoseTransformationResult>;

const pad = (value: number) => String(value).padStart(2, '0');

/** Firehose's `!{timestamp:yyyy-MM-dd}` (arrival time, UTC): the only timestamp form the stack uses. */
function expandPrefix(
  prefix: string,
  partitionKeys: Record<string, string>,
  errorType: string,
  now: Date,
): string {
  return prefix
    .replace(/!\{partitionKeyFromLambda:([^}]+)\}/g, (_, key: string) => {
      const value = partitionKeys[key];
      if (value === undefined) throw new Error(`the transform gave no partition key ${key}`);
      return value;
    })
    .replace(/!\{firehose:error-output-type\}/g, errorType)
    .replace(
      /!\{timestamp:yyyy-MM-dd\}/g,
      `${now.getUTCFullYear()}-${pad(now.getUTCMonth() + 1)}-${pad(now.getUTCDate())}`,
    );
}

/**
 * The local stand-in for Firehose, configured from the synthesized delivery stream: a Kinesis batch (from
 * the local poller), its packed records de-aggregated, goes through the transform Lambda as a Firehose
 * transformation event; `Ok` records are filed under the prefix their partition keys give, gzipped as the
 * template asks; `ProcessingFailed` records, records the transform did not answer for, and every record
 * of a batch whose transform threw go under the error prefix, as Firehose files them after its retries.
 * A redelivered batch overwrites its own objects (named by shard and first sequence number). Buffering is
 * the poller's batching window (the runtime's `archiveBufferMs`): each batch it hands over is one delivery.
 */
export function localFirehose(
  settings: DeliverySettings,
  transform: FirehoseTransform | null,
  bucket: ObjectStore,
) {
  const compress = (text: string) => (settings.compression === 'GZIP' ? gzipSync(text) : Buffer.from(text));
  return async (event: KinesisStreamEvent): Promise<void> => {
    const first = event.Records[0];
    if (first === undefined) return;
    const name = `${shardIdOf(first)}-${first.kinesis.sequenceNumber}.json${settings.compression === 'GZIP' ? '.gz' : ''}`;
    // Firehose de-aggregates KPL aggregated records before the transform when its source is a Kinesis
    // stream: https://docs.aws.amazon.com/firehose/latest/dev/writing-with-kinesis-streams.html and
    // https://docs.aws.amazon.com/streams/latest/dev/kpl-with-firehose.html. So the transform sees one
    // event per record either way. How it treats a record with the magic that does not decode is not
    // documented: here it goes to the transform whole, which drops it as the speed layer quarantines it.
    const userRecords = event.Records.flatMap((kinesisRecord) => {
      const record = toStreamRecord(kinesisRecord);
      const unpacked = userRecordsOf(record);
      return (Array.isArray(unpacked) ? unpacked : [record]).map((userRecord) => ({
        shardId: shardIdOf(kinesisRecord),
        userRecord,
      }));
    });
    const records = userRecords.map(({ shardId, userRecord }, index) => ({
      recordId: String(index),
      approximateArrivalTimestamp: userRecord.approximateArrivalTimestamp,
      data: userRecord.data,
      kinesisRecordMetadata: {
        shardId,
        partitionKey: userRecord.partitionKey,
        sequenceNumber: userRecord.sequenceNumber,
        approximateArrivalTimestamp: userRecord.approximateArrivalTimestamp,
        subsequenceNumber: String(userRecord.subSequenceNumber ?? ''),
      },
    }));
    const now = new Date();
    const failed: { data: string; errorCode: string; errorMessage: string }[] = [];
    const delivered = new Map<string, string[]>();
    let answers: FirehoseTransformationResult['records'];
    if (transform === null) {
      answers = records.map((record) => ({ recordId: record.recordId, result: 'Ok', data: record.data }));
    } else {
      try {
        answers = (
          await transform({
            invocationId: randomUUID(),
            deliveryStreamArn: 'arn:aws:firehose:local',
            sourceKinesisStreamArn: event.Records[0]?.eventSourceARN,
            region: first.awsRegion,
            records,
          } as FirehoseTransformationEvent)
        ).records;
      } catch (error) {
        answers = [];
        for (const record of records)
          failed.push({
            data: record.data,
            errorCode: 'Lambda.FunctionError',
            errorMessage: (error as Error).message,
          });
      }
    }
    const answered = new Map(answers.map((answer) => [answer.recordId, answer]));
    for (const record of failed.length > 0 ? [] : records) {
      const answer = answered.get(record.recordId);
      if (answer === undefined) {
        failed.push({
          data: record.data,
          errorCode: 'Lambda.MissingRecordId',
          errorMessage: 'no answer for the record',
        });
      } else if (answer.result === 'ProcessingFailed') {
        failed.push({
          data: record.data,
          errorCode: 'Lambda.ProcessingFailedStatus',
          errorMessage: 'ProcessingFailed',
        });
      } else if (answer.result === 'Ok' && answer.data === undefined) {
        failed.push({ data: record.data, errorCode: 'Lambda.MissingData', errorMessage: 'Ok without data' });
      } else if (answer.result === 'Ok') {
        const keys = (answer.metadata?.partitionKeys ?? {}) as Record<string, string>;
        const prefix = expandPrefix(settings.prefix, keys, '', now);
        const lines = delivered.get(prefix) ?? [];
        lines.push(Buffer.from(answer.data as string, 'base64').toString('utf8'));
        delivered.set(prefix, lines);
      }
    }
    for (const [prefix, lines] of delivered)
      await bucket.put(`${prefix}${name}`, compress(lines.join('')), 'application/gzip');
    if (failed.length > 0) {
      const prefix = expandPrefix(settings.errorOutputPrefix, {}, 'processing-failed', now);
      const lines = failed.map(
        (failure) =>
          `${JSON.stringify({ attemptsMade: 1, arrivalTimestamp: now.getTime(), errorCode: failure.errorCode, errorMessage: failure.errorMessage, rawData: failure.data })}\n`,
      );
      await bucket.put(`${prefix}${name}`, compress(lines.join('')), 'application/gzip');
    }
  };
}

/** How long the local Firehose is given to deliver what arrived before it was asked. */
export const LOCAL_DELIVERY_WAIT_MS = 15_000;

/**
 * The local Firehose's own measure of completeness, standing in for Firehose's metrics: the arrival time
 * through which the poller feeding it has handed every record over and each delivery is written (a
 * delivery is awaited before the poller moves on). Asked, it first waits, up to `waitMs`, for what
 * arrived before the question: a run planned once the archive has caught up is exact as of its start.
 */
export function localArchiveCompleteness(
  archiveConsumer: Pick<KinesisConsumer, 'handledPast'>,
  waitMs = LOCAL_DELIVERY_WAIT_MS,
): ArchiveCompleteness {
  return { completeThrough: () => archiveConsumer.handledPast(Date.now(), waitMs) };
}
