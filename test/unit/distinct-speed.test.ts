import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it, vi } from 'vitest';
import { catalogs, orderEvents } from '../../events';
import { checkpointedUpdate, MERGE_ATTEMPTS } from '../../functions/adapters/checkpointed-write';
import { itemToRow, measureAttribute, sketchAttribute } from '../../functions/adapters/dynamo-rows';
import type {
  SketchedDelta,
  SketchedItemState,
  SpeedDelta,
  SpeedStore,
} from '../../functions/adapters/dynamo-speed-store';
import { SPEED_METRICS } from '../../functions/commons/metrics';
import {
  count,
  countDistinct,
  DistinctSketch,
  defineView,
  definitionHash,
  fieldsOf,
  mergedSketches,
  speedItemWrites,
  sum,
  validateView,
  viewDocument,
  viewFromDocument,
} from '../../functions/core';
import { SpeedProcessor } from '../../functions/speed/processor';
import { Quarantine } from '../../functions/speed/quarantine';
import { kinesisEvent, kinesisRecord, sequenceNumber } from '../support/kinesis-factory';

const order = fieldsOf(orderEvents);
const customers = defineView(orderEvents, {
  name: 'customers',
  version: 1,
  bucket: 'hour',
  measures: { customers: countDistinct(order.customer), orders: count() },
});
const revenueOnly = defineView(orderEvents, {
  name: 'revenue_only',
  version: 1,
  bucket: 'hour',
  measures: { revenue: sum(order.amount) },
});

const orderData = (index: number, customer: string) =>
  JSON.stringify({
    type: 'order',
    id: `o${index}`,
    ts: Date.UTC(2026, 10, 25, 9, index),
    customer,
    amount: 100,
    status: 'paid',
  });

/** A store where another shard merges into every item between each read and write. */
class ContendedStore implements SpeedStore {
  reads = 0;
  merges: SketchedDelta[] = [];
  adds: SpeedDelta[] = [];
  async addDelta(delta: SpeedDelta): Promise<'applied' | 'conflict'> {
    this.adds.push(delta);
    return 'applied';
  }
  async checkpoint(): Promise<string | null> {
    return null;
  }
  async readSketched(): Promise<SketchedItemState> {
    this.reads++;
    return { checkpoint: null, version: this.reads, sketches: new Map() };
  }
  async mergeDelta(delta: SketchedDelta): Promise<'applied' | 'conflict'> {
    this.merges.push(delta);
    return 'conflict';
  }
  async applyExtreme(): Promise<void> {}
  async readRows() {
    return [];
  }
}

const processorOn = (store: SpeedStore, views = [customers], metrics = new Metrics({ namespace: 'Test' })) =>
  new SpeedProcessor({
    catalogs,
    views,
    store,
    quarantine: new Quarantine({} as never),
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics,
    retentionMs: 3_600_000,
  });

describe('a speed item of a view with a distinct measure', () => {
  it('writes the delta’s distinct values as a sketch merged with the stored one, never as a number to add', () => {
    // Prepare
    const row = {
      bucket: 0,
      group: [],
      values: { customers: 2n, orders: 3n },
      distinctValues: { customers: new Set(['c1', 'c2']) },
    };
    const stored = DistinctSketch.of(customers.distinctPrecision, ['c2', 'c3']);
    // Act
    const writes = speedItemWrites(customers, row);
    const merged = mergedSketches(customers, new Map([['customers', stored]]), row.distinctValues);
    // Assess
    expect(writes).toEqual({ adds: [{ measure: 'orders', value: 3n }], extremes: [] });
    expect(merged.map(({ measure }) => measure)).toEqual(['customers']);
    expect(merged[0]?.sketch.registers).toEqual(
      DistinctSketch.of(customers.distinctPrecision, ['c1', 'c2', 'c3']).registers,
    );
  });

  it('fails the batch for the item after every merge attempt met another shard’s write, and says so in metrics', async () => {
    // Prepare
    const store = new ContendedStore();
    const metrics = new Metrics({ namespace: 'Test' });
    const published = vi.spyOn(metrics, 'addMetric');
    const records = [0, 1, 2].map((index) =>
      kinesisRecord({
        shardId: 's',
        sequenceNumber: sequenceNumber(index),
        data: orderData(index, `c${index}`),
      }),
    );
    // Act
    const response = await processorOn(store, [customers], metrics).process(kinesisEvent(records));
    // Assess: retried from the item's first record; each attempt wrote over the version it read
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumber(0) }]);
    expect(store.reads).toBe(MERGE_ATTEMPTS);
    expect(store.merges.map((delta) => delta.readVersion)).toEqual(
      Array.from({ length: MERGE_ATTEMPTS }, (_, index) => index + 1),
    );
    expect(store.adds).toEqual([]);
    // Every refusal but the last was a retry; the last gave up.
    expect(published).toHaveBeenCalledWith(
      SPEED_METRICS.sketchMergeRetries.name,
      'Count',
      MERGE_ATTEMPTS - 1,
    );
    expect(published).toHaveBeenCalledWith(SPEED_METRICS.sketchMergesGivenUp.name, 'Count', 1);
  });

  it('leaves views without a distinct measure on the plain path: no read before the write', async () => {
    const store = new ContendedStore();
    const records = [
      kinesisRecord({ shardId: 's', sequenceNumber: sequenceNumber(0), data: orderData(0, 'c') }),
    ];
    const response = await processorOn(store, [revenueOnly]).process(kinesisEvent(records));
    expect(response.batchItemFailures).toEqual([]);
    expect(store.reads).toBe(0);
    expect(store.adds.map((delta) => delta.row.values)).toEqual([{ revenue: 100n }]);
  });

  it('writes only over the sketch version read, and bumps it', () => {
    const base = { shardId: 's', firstSequence: '2', lastSequence: '3', set: {}, add: [] };
    const first = checkpointedUpdate({ ...base, version: { attribute: 'sv', read: null } });
    expect(first.condition).toBe('(attribute_not_exists(#ck) OR #ck < :first) AND attribute_not_exists(#v)');
    expect(first.values[':vnext']).toEqual({ N: '1' });
    const later = checkpointedUpdate({ ...base, version: { attribute: 'sv', read: 4 } });
    expect(later.condition).toBe('(attribute_not_exists(#ck) OR #ck < :first) AND #v = :v');
    expect(later.values[':v']).toEqual({ N: '4' });
    expect(later.update).toContain('#v = :vnext');
    expect(checkpointedUpdate(base).condition).toBe('attribute_not_exists(#ck) OR #ck < :first');
  });

  it('reads the estimate written beside the sketch, without decoding it; 0 with none', () => {
    // Bytes that are no sketch: decoded, they would throw.
    const written = {
      bucket: { N: '0' },
      grp: { S: '[]' },
      m_orders: { N: '1500' },
      [measureAttribute('customers')]: { N: '997' },
      [sketchAttribute('customers')]: { B: Buffer.from([9, 9, 9]) },
    };
    expect(itemToRow(customers, written).values).toEqual({ customers: 997n, orders: 1500n });
    expect(itemToRow(customers, { bucket: { N: '0' }, grp: { S: '[]' } }).values.customers).toBe(0n);
  });
});

describe('distinctPrecision', () => {
  const four = {
    a: countDistinct(order.customer),
    b: countDistinct(order.id),
    c: countDistinct(order.amount),
    d: countDistinct(order.product),
  };

  it('allows at most 4 distinct measures per view, naming measures: 4 at precision 16 fit a speed item', () => {
    const at = (precision: number, measures: Record<string, ReturnType<typeof count>>) => () =>
      defineView(orderEvents, {
        name: 'wide',
        version: 1,
        bucket: 'hour',
        measures,
        distinctPrecision: precision,
      });
    expect(at(16, four)).not.toThrow();
    expect(at(10, { ...four, e: countDistinct(order.country) })).toThrow(
      /measures: at most 4 countDistinct measures, not 5 \(a, b, c, d, e\)/,
    );
    expect(at(10, { ...four, orders: count() })).not.toThrow();
    expect(at(9, four)).toThrow(/distinctPrecision: must be an integer from 10 to 16/);
  });

  it('refuses a boolean expression, naming the measure', () => {
    expect(() =>
      defineView(orderEvents, {
        name: 'bad',
        version: 1,
        bucket: 'hour',
        measures: { paid: { kind: 'countDistinct', expr: order.amount.gt(5).node } },
      }),
    ).toThrow(/measures\.paid: countDistinct needs an integer or string expression/);
  });

  it('is part of the document and the hash of a view with a distinct measure only', () => {
    const precise = defineView(orderEvents, {
      name: 'customers',
      version: 1,
      bucket: 'hour',
      measures: customers.measures,
      distinctPrecision: 14,
    });
    expect(viewDocument(precise).distinctPrecision).toBe(14);
    expect(definitionHash(precise)).not.toBe(definitionHash(customers));
    const back = viewFromDocument(JSON.parse(JSON.stringify(viewDocument(precise))), catalogs);
    expect(back.distinctPrecision).toBe(14);
    expect(definitionHash(back)).toBe(definitionHash(precise));
    // A view without one computes the same numbers at any precision: its hash does not move.
    const other = { ...revenueOnly, distinctPrecision: 14 };
    validateView(other);
    expect(viewDocument(other)).not.toHaveProperty('distinctPrecision');
    expect(definitionHash(other)).toBe(definitionHash(revenueOnly));
  });
});
