import type { FirehoseTransformationEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { transformRecords as handler } from '../../functions/archive/firehose-transform';

const record = (recordId: string, data: string) => ({
  recordId,
  approximateArrivalTimestamp: Date.UTC(2026, 10, 25, 12),
  data: Buffer.from(data).toString('base64'),
});

describe('Firehose transform', () => {
  it('files a valid event under its event-time day as one JSON line, and drops an invalid one', async () => {
    // Prepare
    const order = {
      id: 'o1',
      ts: Date.UTC(2026, 10, 24, 23, 59),
      country: 'US',
      amount: 100,
      status: 'paid',
      note: 'x',
    };
    const event = {
      invocationId: 'i',
      deliveryStreamArn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/d',
      region: 'us-east-1',
      records: [record('1', JSON.stringify(order)), record('2', '{"id": 7}')],
    } as FirehoseTransformationEvent;
    // Act
    const { records } = await handler(event);
    // Assess
    const { note: _, ...known } = order;
    expect(records[0]).toEqual({
      recordId: '1',
      result: 'Ok',
      data: Buffer.from(`${JSON.stringify(known)}\n`).toString('base64'),
      metadata: { partitionKeys: { dt: '2026-11-24' } },
    });
    expect(records[1]).toMatchObject({ recordId: '2', result: 'Dropped' });
  });
});
