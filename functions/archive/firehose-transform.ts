import type { FirehoseTransformationEvent, FirehoseTransformationResult } from 'aws-lambda';
import { orderEvents } from '../../events';
import { defineFunction } from '../commons/function';
import { SERVICES } from '../commons/metrics';
import { archiveRecord } from '../core';

/**
 * Firehose's transformation: each record becomes the event as the speed layer decodes it, filed under
 * its event-time day (the `dt` partition key). Invalid records are dropped here: the speed layer
 * quarantines them with their reason, and the batch layer must not count what the speed layer refused.
 */
export const transformRecords = async (
  event: FirehoseTransformationEvent,
): Promise<FirehoseTransformationResult> => ({
  records: event.records.map((record) => {
    const archived = archiveRecord(orderEvents, {
      sequenceNumber: '0',
      partitionKey: '',
      data: record.data,
      approximateArrivalTimestamp: record.approximateArrivalTimestamp,
    });
    if (!archived.ok) return { recordId: record.recordId, result: 'Dropped', data: record.data };
    return {
      recordId: record.recordId,
      result: 'Ok',
      data: Buffer.from(archived.line).toString('base64'),
      metadata: { partitionKeys: { dt: archived.day } },
    };
  }),
});

/** The transform function: no configuration beyond Powertools'. */
export const archiveTransformFunction = defineFunction({
  name: 'archive-transform',
  handlerFile: 'functions/archive/transform-handler.ts',
  service: SERVICES.archive,
  environment: {},
  build: () => transformRecords,
});
