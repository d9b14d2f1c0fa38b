import type {
  FirehoseTransformationEvent,
  FirehoseTransformationResult,
  FirehoseTransformationResultRecord,
} from 'aws-lambda';
import { catalogs } from '../../events';
import { defineFunction } from '../commons/function';
import { SERVICES } from '../commons/metrics';
import { createPowertools } from '../commons/powertools';
import { archiveRecord, EVENT_TYPE_FIELD, type EventCatalogs, PARTITION_COLUMN } from '../core';

/** A record the transform could not file, with why: Firehose keeps it under its error prefix. */
export interface ProcessingFailure {
  readonly recordId: string;
  readonly reason: string;
}

/**
 * Firehose's transformation: each record becomes the event as the speed layer decodes it, filed under
 * its catalog and its event-time day (two partition keys, EVENT_TYPE_FIELD and PARTITION_COLUMN, which the
 * delivery stream's prefix, `archiveDayPrefix`, names the folders by). Invalid records, an unknown or
 * missing type among them, are dropped here: the speed layer
 * quarantines them with their reason, and the batch layer must not count what the speed layer refused.
 * Each record is answered on its own and nothing throws: a transform that throws fails its whole batch,
 * good events and all. A record it cannot file is `ProcessingFailed`, its reason reported (Firehose's
 * answer has no field for it; AWS documents logging it).
 *
 * Each record is one event even though `POST /events` packs events into KPL aggregated records: with a
 * Kinesis stream as its source, Firehose de-aggregates them before the transform
 * (https://docs.aws.amazon.com/firehose/latest/dev/writing-with-kinesis-streams.html), and so does the
 * local Firehose (`local/firehose.ts`).
 */
export function createTransform(
  catalogs: EventCatalogs,
  report: (failure: ProcessingFailure) => void = () => {},
): (event: FirehoseTransformationEvent) => Promise<FirehoseTransformationResult> {
  const failed = (recordId: string, data: string, reason: string): FirehoseTransformationResultRecord => {
    report({ recordId, reason });
    return { recordId, result: 'ProcessingFailed', data };
  };
  return async (event) => ({
    records: event.records.map((record): FirehoseTransformationResultRecord => {
      try {
        const archived = archiveRecord(catalogs, {
          sequenceNumber: '0',
          partitionKey: '',
          data: record.data,
          approximateArrivalTimestamp: record.approximateArrivalTimestamp,
        });
        if (archived.ok)
          return {
            recordId: record.recordId,
            result: 'Ok',
            data: Buffer.from(archived.line).toString('base64'),
            metadata: {
              partitionKeys: { [EVENT_TYPE_FIELD]: archived.type, [PARTITION_COLUMN]: archived.day },
            },
          };
        if (archived.invalid) return { recordId: record.recordId, result: 'Dropped', data: record.data };
        return failed(record.recordId, record.data, archived.reason);
      } catch (error) {
        return failed(record.recordId, record.data, `transform failed: ${(error as Error).message}`);
      }
    }),
  });
}

/** The stack's transform, reporting nothing (benchmarks, tests). */
export const transformRecords = createTransform(catalogs);

/** The transform function: no configuration beyond Powertools'. */
export const archiveTransformFunction = defineFunction({
  name: 'archive-transform',
  handlerFile: 'functions/archive/transform-handler.ts',
  service: SERVICES.archive,
  environment: {},
  build: (config) => {
    const { logger } = createPowertools(config);
    return createTransform(catalogs, (failure) => logger.error('record not archived', { ...failure }));
  },
});
