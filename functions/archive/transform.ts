import type { FirehoseTransformationEvent, FirehoseTransformationResult } from 'aws-lambda';
import { orderEvents } from '../../events';
import { archiveRecord } from '../core';

/**
 * Firehose's data transformation: each record becomes the event as the speed layer decodes it, one
 * JSON line filed under its event-time day (the `dt` partition key).
 */
export const handler = async (event: FirehoseTransformationEvent): Promise<FirehoseTransformationResult> => ({
  records: event.records.map((record) => {
    const archived = archiveRecord(orderEvents, {
      sequenceNumber: '0',
      partitionKey: '',
      data: record.data,
      approximateArrivalTimestamp: record.approximateArrivalTimestamp,
    });
    // Dropped, not failed: the speed layer quarantines invalid records with their reason, and the
    // batch layer must not count what the speed layer refused.
    if (!archived.ok) return { recordId: record.recordId, result: 'Dropped', data: record.data };
    return {
      recordId: record.recordId,
      result: 'Ok',
      data: Buffer.from(archived.line).toString('base64'),
      metadata: { partitionKeys: { dt: archived.day } },
    };
  }),
});
