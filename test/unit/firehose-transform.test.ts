import type { FirehoseTransformationEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { catalogs, orderEvents } from '../../events';
import {
  createTransform,
  transformRecords as handler,
  type ProcessingFailure,
} from '../../functions/archive/firehose-transform';
import { defineEventCatalogs } from '../../functions/core';

const record = (recordId: string, data: string) => ({
  recordId,
  approximateArrivalTimestamp: Date.UTC(2026, 10, 25, 12),
  data: Buffer.from(data).toString('base64'),
});

const firehoseEvent = (records: ReturnType<typeof record>[]) =>
  ({
    invocationId: 'i',
    deliveryStreamArn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/d',
    region: 'us-east-1',
    records,
  }) as FirehoseTransformationEvent;

const paid = {
  type: 'order',
  id: 'o1',
  ts: Date.UTC(2026, 10, 24, 12),
  country: 'US',
  amount: 100,
  status: 'paid',
};

describe('Firehose transform', () => {
  it('files a valid event under its event-time day as one JSON line, and drops an invalid one', async () => {
    // Prepare
    const order = {
      type: 'order',
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
    // The line holds the catalog's fields: the type is the folder.
    const { note: _, type: __, ...known } = order;
    expect(records[0]).toEqual({
      recordId: '1',
      result: 'Ok',
      data: Buffer.from(`${JSON.stringify(known)}\n`).toString('base64'),
      metadata: { partitionKeys: { type: 'order', dt: '2026-11-24' } },
    });
    expect(records[1]).toMatchObject({ recordId: '2', result: 'Dropped' });
  });

  it('files each event under its own catalog, and drops an event of an unknown or missing type', async () => {
    // Prepare
    const view = { type: 'page_view', id: 'v1', ts: Date.UTC(2026, 10, 25, 1), path: '/docs', country: 'FR' };
    const { type: _, ...order } = paid;
    const event = firehoseEvent([
      record('1', JSON.stringify(paid)),
      record('2', JSON.stringify(view)),
      record('3', JSON.stringify({ ...paid, type: 'refund' })),
      record('4', JSON.stringify(order)),
    ]);
    // Act
    const { records } = await handler(event);
    // Assess
    expect(records.map((answer) => [answer.result, answer.metadata?.partitionKeys ?? null])).toEqual([
      ['Ok', { type: 'order', dt: '2026-11-24' }],
      ['Ok', { type: 'page_view', dt: '2026-11-25' }],
      ['Dropped', null],
      ['Dropped', null],
    ]);
    const { type: __, ...viewLine } = view;
    expect(Buffer.from(records[1]?.data ?? '', 'base64').toString()).toBe(`${JSON.stringify(viewLine)}\n`);
  });

  it.each([
    ['a time past any day', JSON.stringify({ ...paid, ts: 9e15 })],
    ['a time past the catalog range', JSON.stringify({ ...paid, ts: Date.UTC(2100, 0, 1) })],
    ['a lone surrogate, which no archive reader reads', JSON.stringify({ ...paid, country: 'U\ud800S' })],
    ['a string past its maximum length', JSON.stringify({ ...paid, country: 'U'.repeat(17) })],
  ])('drops an event with %s and still files the good ones of its batch', async (_, data) => {
    // Prepare
    const event = firehoseEvent([
      record('1', JSON.stringify(paid)),
      record('2', data),
      record('3', JSON.stringify(paid)),
    ]);
    // Act
    const { records } = await handler(event);
    // Assess
    expect(records.map((answer) => answer.result)).toEqual(['Ok', 'Dropped', 'Ok']);
  });

  it('answers a record it cannot handle ProcessingFailed with its reason, and files the rest', async () => {
    // Prepare: a catalog that fails on one record
    const failures: ProcessingFailure[] = [];
    const failing = {
      ...orderEvents,
      accepts: (input: unknown) => {
        if ((input as { id?: string }).id === 'boom') throw new Error('cannot read this record');
        return orderEvents.accepts(input);
      },
    };
    const others = catalogs.all.filter((catalog) => catalog.name !== orderEvents.name);
    const transform = createTransform(defineEventCatalogs([failing, ...others]), (failure) =>
      failures.push(failure),
    );
    const event = firehoseEvent([
      record('1', JSON.stringify({ ...paid, id: 'boom' })),
      record('2', JSON.stringify(paid)),
    ]);
    // Act
    const { records } = await transform(event);
    // Assess
    expect(records.map((answer) => answer.result)).toEqual(['ProcessingFailed', 'Ok']);
    expect(records[0]?.data).toBe(event.records[0]?.data);
    expect(failures).toEqual([{ recordId: '1', reason: 'transform failed: cannot read this record' }]);
  });
});
