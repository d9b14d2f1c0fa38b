import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it, vi } from 'vitest';
import { catalogs, orderEvents } from '../../events';
import type {
  SketchedDelta,
  SketchedItemState,
  SpeedDelta,
  SpeedStore,
} from '../../functions/adapters/dynamo-speed-store';
import type { ObjectStore } from '../../functions/adapters/object-store';
import {
  compileJs,
  count,
  DYNAMODB_PARTITION_KEY_MAX_BYTES,
  DYNAMODB_SORT_KEY_MAX_BYTES,
  decodeRecord,
  defineView,
  fieldsOf,
  max,
  min,
  padSequence,
  planSpeedWrites,
  speedItemWrites,
  sum,
} from '../../functions/core';
import { SpeedProcessor } from '../../functions/speed/processor';
import { Quarantine, type QuarantinedRecord } from '../../functions/speed/quarantine';
import { revenue, views } from '../../views';
import { kinesisEvent, kinesisRecord, packedData, sequenceNumber } from '../support/kinesis-factory';

const order = (index: number) =>
  JSON.stringify({
    type: 'order',
    id: `o${index}`,
    ts: Date.UTC(2026, 10, 25, 9, 30),
    country: 'US',
    amount: 1000,
    status: 'paid',
  });

class RecordingStore implements SpeedStore {
  readonly deltas: SpeedDelta[] = [];
  readonly extremes: [measure: string, kind: 'min' | 'max', value: bigint][] = [];
  async addDelta(delta: SpeedDelta): Promise<'applied' | 'conflict'> {
    this.deltas.push(delta);
    return 'applied';
  }
  async checkpoint(): Promise<string | null> {
    return null;
  }
  // A view with a distinct measure reads the item first: here it has never been written.
  async readSketched(): Promise<SketchedItemState> {
    return { checkpoint: null, version: null, sketches: new Map() };
  }
  async mergeDelta(delta: SketchedDelta): Promise<'applied' | 'conflict'> {
    return this.addDelta(delta);
  }
  async applyExtreme(_pk: string, _sk: string, measure: string, kind: 'min' | 'max', value: bigint) {
    this.extremes.push([measure, kind, value]);
  }
  async readRows() {
    return [];
  }
}

const memoryObjects = (): ObjectStore & { objects: Map<string, string> } => {
  const objects = new Map<string, string>();
  return {
    objects,
    async put(key, body) {
      objects.set(key, String(body));
    },
    async get(key) {
      return new TextEncoder().encode(objects.get(key));
    },
    async *stream(key) {
      yield new TextEncoder().encode(objects.get(key));
    },
    async list(prefix) {
      return [...objects.keys()]
        .filter((key) => key.startsWith(prefix))
        .sort()
        .map((key) => ({ key, lastModified: 0, size: objects.get(key)?.length ?? 0 }));
    },
  };
};

describe('speed processor', () => {
  it('writes one update per distinct (view, bucket, group), not one per event', async () => {
    // Prepare
    const store = new RecordingStore();
    const processor = new SpeedProcessor({
      catalogs,
      views,
      store,
      quarantine: new Quarantine(memoryObjects()),
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'Test' }),
      retentionMs: 3_600_000,
    });
    const records = Array.from({ length: 500 }, (_, index) =>
      kinesisRecord({
        shardId: 'shardId-000000000000',
        sequenceNumber: sequenceNumber(index),
        data: order(index),
      }),
    );
    // Act
    const response = await processor.process(kinesisEvent(records));
    // Assess: revenue (one hour, one country), orders_per_minute (one minute, one status) and
    // unique_customers (one hour, one country; these orders name no customer)
    expect(response.batchItemFailures).toEqual([]);
    expect(store.deltas).toHaveLength(3);
    const revenue = store.deltas.find((delta) => delta.view.name === 'revenue');
    expect(revenue?.row.values).toEqual({ revenue: 500_000n, orders: 500n });
    expect(revenue?.firstSequence).toBe(padSequence(sequenceNumber(0)));
    expect(revenue?.lastSequence).toBe(padSequence(sequenceNumber(499)));
  });

  it("counts each event in its own catalog's views only, and quarantines an unknown or missing type with why", async () => {
    // Prepare: an order, two page views (one packed with the order), a refund (no catalog) and an untyped order
    const objects = memoryObjects();
    const store = new RecordingStore();
    const processor = new SpeedProcessor({
      catalogs,
      views,
      store,
      quarantine: new Quarantine(objects),
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'Test' }),
      retentionMs: 3_600_000,
    });
    const view = (id: string) =>
      JSON.stringify({
        type: 'page_view',
        id,
        ts: Date.UTC(2026, 10, 25, 9, 40),
        path: '/docs',
        country: 'US',
      });
    const records = [
      packedData([order(1), view('v1')]),
      view('v2'),
      order(2).replace('"type":"order"', '"type":"refund"'),
      order(3).replace('"type":"order",', ''),
    ].map((data, index) => kinesisRecord({ shardId: 's', sequenceNumber: sequenceNumber(index), data }));
    // Act
    const response = await processor.process(kinesisEvent(records));
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const rows = Object.fromEntries(store.deltas.map((delta) => [delta.view.name, delta.row.values]));
    expect(rows).toEqual({
      revenue: { revenue: 1000n, orders: 1n },
      orders_per_minute: { orders: 1n },
      page_views: { views: 2n },
      unique_customers: { customers: 0n },
    });
    const reasons = [...objects.objects.values()].map(
      (body) => (JSON.parse(body) as QuarantinedRecord).reason,
    );
    expect(reasons.sort()).toEqual([
      'no type: one of order, page_view',
      'unknown event type "refund": one of order, page_view',
    ]);
  });

  it('publishes events, invalid, keys written, conflicts, lateness not recorded, unbuildable definitions and batch age', async () => {
    // Prepare
    const metrics = new Metrics({ namespace: 'Test' });
    const added = vi.spyOn(metrics, 'addMetric');
    vi.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => metrics);
    const processor = new SpeedProcessor({
      catalogs,
      views,
      store: new RecordingStore(),
      quarantine: new Quarantine(memoryObjects()),
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics,
      retentionMs: 3_600_000,
      now: () => Date.UTC(2026, 10, 25, 12, 0, 5),
    });
    // Act
    await processor.process(
      kinesisEvent([
        kinesisRecord({ shardId: 's', sequenceNumber: sequenceNumber(1), data: order(1) }),
        kinesisRecord({ shardId: 's', sequenceNumber: sequenceNumber(2), data: 'garbage' }),
      ]),
    );
    // Assess
    const published = Object.fromEntries(added.mock.calls.map(([name, , value]) => [name, value]));
    expect(published).toEqual({
      events: 1,
      invalid: 1,
      keysWritten: 3,
      conflicts: 0,
      sketchMergeRetries: 0,
      sketchMergesGivenUp: 0,
      latenessNotRecorded: 0,
      unbuildableDefinitions: 0,
      countedViewsStale: 0,
      batchAge: 5_000,
    });
  });

  it('reports the lowest sequence number whose item could not be written', async () => {
    // Prepare: the write for the 'FR' hour fails
    const store = new RecordingStore();
    store.addDelta = async (delta) => {
      if (delta.row.group[0] === 'FR') throw new Error('throttled');
      return 'applied';
    };
    const processor = new SpeedProcessor({
      catalogs,
      views: views.filter((view) => view.name === 'revenue'),
      store,
      quarantine: new Quarantine(memoryObjects()),
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'Test' }),
      retentionMs: 3_600_000,
    });
    const data = [order(1), order(2).replace('US', 'FR'), order(3), order(4).replace('US', 'FR')];
    const records = data.map((value, index) =>
      kinesisRecord({ shardId: 's', sequenceNumber: sequenceNumber(index), data: value }),
    );
    // Act
    const response = await processor.process(kinesisEvent(records));
    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumber(1) }]);
  });
});

describe('speed processor, packed records', () => {
  const processorWith = (store: SpeedStore, objects = memoryObjects()) =>
    new SpeedProcessor({
      catalogs,
      views: views.filter((view) => view.name === 'revenue'),
      store,
      quarantine: new Quarantine(objects),
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'Test' }),
      retentionMs: 3_600_000,
    });
  const events = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, index) => order(from + index));
  const quarantined = (objects: ReturnType<typeof memoryObjects>) =>
    [...objects.objects].map(([key, body]) => ({ key, record: JSON.parse(body) as QuarantinedRecord }));

  it('counts every event of packed records and plain ones alike, in one update per item', async () => {
    // Prepare
    const store = new RecordingStore();
    const records = [packedData(events(0, 100)), order(100), packedData(events(101, 200))].map(
      (data, index) => kinesisRecord({ shardId: 's', sequenceNumber: sequenceNumber(index), data }),
    );
    // Act
    const response = await processorWith(store).process(kinesisEvent(records));
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(store.deltas.map((delta) => delta.row.values)).toEqual([{ revenue: 200_000n, orders: 200n }]);
    expect(store.deltas[0]?.firstSequence).toBe(padSequence(sequenceNumber(0)));
    expect(store.deltas[0]?.lastSequence).toBe(padSequence(sequenceNumber(2)));
  });

  it('quarantines an invalid event of a packed record alone, keyed and marked by its sub-sequence number', async () => {
    // Prepare
    const store = new RecordingStore();
    const objects = memoryObjects();
    const data = packedData([order(1), 'garbage', order(3)]);
    // Act
    await processorWith(store, objects).process(
      kinesisEvent([kinesisRecord({ shardId: 's', sequenceNumber: sequenceNumber(7), data })]),
    );
    // Assess
    expect(store.deltas.map((delta) => delta.row.values)).toEqual([{ revenue: 2_000n, orders: 2n }]);
    expect(quarantined(objects)).toEqual([
      {
        key: expect.stringMatching(new RegExp(`/s/${padSequence(sequenceNumber(7))}-0{19}1.json$`)),
        record: expect.objectContaining({
          sequenceNumber: sequenceNumber(7),
          subSequenceNumber: 1,
          partitionKey: 'e1',
          data: Buffer.from('garbage').toString('base64'),
          reason: expect.stringMatching(/^not JSON/),
        }),
      },
    ]);
  });

  it('quarantines a packed record that does not decode whole, with why, counting none of it', async () => {
    // Prepare
    const store = new RecordingStore();
    const objects = memoryObjects();
    const data = packedData(events(0, 3));
    data[data.length - 1] = (data[data.length - 1] ?? 0) ^ 0xff;
    // Act
    const response = await processorWith(store, objects).process(
      kinesisEvent([kinesisRecord({ shardId: 's', sequenceNumber: sequenceNumber(7), data })]),
    );
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(store.deltas).toEqual([]);
    const [only, ...others] = quarantined(objects);
    expect(others).toEqual([]);
    expect(only?.key).toMatch(new RegExp(`/s/${padSequence(sequenceNumber(7))}.json$`));
    expect(only?.record.subSequenceNumber).toBeUndefined();
    expect(only?.record.reason).toMatch(/checksum/);
    expect(only?.record.data).toBe(Buffer.from(data).toString('base64'));
  });

  it('skips, after a conflict, every event of the packed records up to the checkpoint, and none after', async () => {
    // Prepare: the item already applied the records at sequences 0 and 1, all their events
    const store = new RecordingStore();
    const checkpoint = padSequence(sequenceNumber(1));
    store.addDelta = async (delta) => {
      if (delta.firstSequence <= checkpoint) return 'conflict';
      store.deltas.push(delta);
      return 'applied';
    };
    store.checkpoint = async () => checkpoint;
    const records = [
      packedData(events(0, 2)),
      packedData(events(2, 5)),
      order(5),
      packedData(events(6, 9)),
    ].map((data, index) => kinesisRecord({ shardId: 's', sequenceNumber: sequenceNumber(index), data }));
    // Act
    const response = await processorWith(store).process(kinesisEvent(records));
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(store.deltas.map((delta) => delta.row.values)).toEqual([{ revenue: 4_000n, orders: 4n }]);
    expect(store.deltas[0]?.firstSequence).toBe(padSequence(sequenceNumber(2)));
  });

  it('reports the packed record whose event could not be quarantined, so all its events come again', async () => {
    // Prepare
    const objects = memoryObjects();
    objects.put = async () => {
      throw new Error('S3 unavailable');
    };
    const records = [packedData(events(0, 2)), packedData([order(2), 'garbage'])].map((data, index) =>
      kinesisRecord({ shardId: 's', sequenceNumber: sequenceNumber(index), data }),
    );
    // Act
    const response = await processorWith(new RecordingStore(), objects).process(kinesisEvent(records));
    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumber(1) }]);
  });
});

describe('how a speed item stores each measure', () => {
  const field = fieldsOf(orderEvents);
  const amounts = defineView(orderEvents, {
    name: 'amounts',
    version: 1,
    bucket: 'hour',
    groupBy: [],
    measures: {
      orders: count(),
      revenue: sum(field.amount),
      discounts: sum(field.discount),
      smallest: min(field.amount),
      largest: max(field.amount),
    },
  });

  it('ADDs counts and sums, sets minima and maxima conditionally, and writes nothing for a null', () => {
    // Act
    const writes = speedItemWrites(amounts, {
      bucket: 0,
      group: [],
      values: { orders: 3n, revenue: 1500n, discounts: null, smallest: 100n, largest: 900n },
    });
    // Assess
    expect(writes).toEqual({
      adds: [
        { measure: 'orders', value: 3n },
        { measure: 'revenue', value: 1500n },
      ],
      extremes: [
        { measure: 'smallest', keep: 'min', value: 100n },
        { measure: 'largest', keep: 'max', value: 900n },
      ],
    });
  });

  it('sends the additive measures in the checkpointed delta and each extreme of the batch on its own', async () => {
    // Prepare: three orders in one hour
    const store = new RecordingStore();
    const processor = new SpeedProcessor({
      catalogs,
      views: [amounts],
      store,
      quarantine: new Quarantine(memoryObjects()),
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'Test' }),
      retentionMs: 3_600_000,
    });
    const data = [500, 100, 900].map((amount, index) =>
      order(index).replace('"amount":1000', `"amount":${amount}`),
    );
    // Act
    await processor.process(
      kinesisEvent(
        data.map((value, index) =>
          kinesisRecord({ shardId: 's', sequenceNumber: sequenceNumber(index), data: value }),
        ),
      ),
    );
    // Assess
    expect(store.deltas.map((delta) => delta.row.values)).toEqual([
      { orders: 3n, revenue: 1500n, discounts: null, smallest: 100n, largest: 900n },
    ]);
    expect(store.extremes).toEqual([
      ['smallest', 'min', 100n],
      ['largest', 'max', 900n],
    ]);
  });
});

describe('record decoding', () => {
  it.each([
    ['not base64 JSON', 'not json', /^not JSON/],
    ['a JSON array', '[1, 2]', /^no type: one of order, page_view$/],
    [
      'an event without a type',
      order(1).replace('"type":"order",', ''),
      /^no type: one of order, page_view$/,
    ],
    [
      'an event of an unknown type',
      order(1).replace('"type":"order"', '"type":"refund"'),
      /^unknown event type "refund": one of order, page_view$/,
    ],
    ['a type that is not a string', order(1).replace('"type":"order"', '"type":7'), /^not a string: one of/],
    [
      'a page view missing its path',
      JSON.stringify({ type: 'page_view', id: 'v1', ts: 1 }),
      /page_view schema/,
    ],
    ['a wrong field', order(1).replace('"paid"', '"lost"'), /fails the order schema: status/],
    ['a string past its maximum length', order(1).replace('"US"', `"${'U'.repeat(17)}"`), /schema: country$/],
    ['a lone surrogate', order(1).replace('"US"', '"U\\ud800S"'), /fails the order schema: country$/],
    ['a time past the catalog range', order(1).replace(/"ts":\d+/, '"ts":9000000000000000'), /schema: ts$/],
  ])('quarantines %s with its reason', (_, data, reason) => {
    const record = kinesisRecord({ shardId: 's', sequenceNumber: sequenceNumber(1), data }).kinesis;
    const decoded = decodeRecord(catalogs, { ...record, approximateArrivalTimestamp: 0 });
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toMatch(reason);
  });
});

describe('DynamoDB key limits in the speed layer', () => {
  const stream = (sequence: number, event: Record<string, unknown>) => ({
    record: {
      sequenceNumber: sequenceNumber(sequence),
      partitionKey: 'pk',
      data: '',
      approximateArrivalTimestamp: 0,
    },
    event,
    catalog: orderEvents,
  });
  const event = { id: 'o1', ts: Date.UTC(2026, 10, 25, 9), country: 'US', amount: 100, status: 'paid' };

  it('quarantines a record whose sort key would pass 1,024 bytes, naming the group field', () => {
    // Prepare: past the catalog's bounds, as only a catalog that let it through could send
    const long = { ...event, id: 'o2', country: 'é'.repeat(600) };
    // Act
    const plan = planSpeedWrites([compileJs(revenue)], [stream(1, event), stream(2, long)]);
    // Assess
    expect([...plan.keys.values()].map((key) => key.group)).toEqual([['US']]);
    expect(plan.unevaluable).toHaveLength(1);
    expect(plan.unevaluable[0]?.reason).toMatch(
      new RegExp(`sort key would be \\d+ bytes, over DynamoDB's ${DYNAMODB_SORT_KEY_MAX_BYTES}: country$`),
    );
    expect(plan.unevaluable[0]?.errors.map((error) => error.field)).toEqual(['country']);
  });

  it('quarantines, rather than retries, records whose partition key would pass 2,048 bytes', async () => {
    // Prepare: a view whose name alone passes the partition key limit
    const objects = memoryObjects();
    const store = new RecordingStore();
    const longName = { ...revenue, name: `v${'x'.repeat(DYNAMODB_PARTITION_KEY_MAX_BYTES)}` };
    const processor = new SpeedProcessor({
      catalogs,
      views: [longName],
      store,
      quarantine: new Quarantine(objects),
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'Test' }),
      retentionMs: 3_600_000,
    });
    const records = [1, 2].map((index) =>
      kinesisRecord({ shardId: 's', sequenceNumber: sequenceNumber(index), data: order(index) }),
    );
    // Act
    const response = await processor.process(kinesisEvent(records));
    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(store.deltas).toEqual([]);
    const reasons = [...objects.objects.values()].map((body) => JSON.parse(body).reason);
    expect(reasons).toHaveLength(2);
    for (const reason of reasons) expect(reason).toMatch(/partition key would be \d+ bytes.*: view$/);
  });
});
