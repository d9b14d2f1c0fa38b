import {
  type AttributeValue,
  DynamoDBClient,
  GetItemCommand,
  paginateScan,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { KinesisStreamRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { catalogs, orderEvents } from '../../events';
import {
  DYNAMO_ITEM_LIMIT_BYTES,
  itemBytes,
  measureAttribute,
  sketchAttribute,
  storedSketch,
} from '../../functions/adapters/dynamo-rows';
import { DynamoSpeedStore } from '../../functions/adapters/dynamo-speed-store';
import { SPEED_METRICS } from '../../functions/commons/metrics';
import {
  compileJs,
  count,
  countDistinct,
  DistinctSketch,
  defineView,
  fieldsOf,
  sum,
  type ViewDefinition,
  withinSketchBound,
} from '../../functions/core';
import { SpeedProcessor } from '../../functions/speed/processor';
import { Quarantine } from '../../functions/speed/quarantine';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators';
import { DAY_ZERO } from '../support/arbitraries';
import { quietLogger, quietMetrics, startFixture } from '../support/fixture';
import { kinesisEvent, kinesisRecord, sequenceNumber } from '../support/kinesis-factory';

const order = fieldsOf(orderEvents);
/** One item per hour: every event of a test lands in the same speed item. */
const customers = defineView(orderEvents, {
  name: 'hourly_customers',
  version: 1,
  bucket: 'hour',
  measures: { customers: countDistinct(order.customer), orders: count(), revenue: sum(order.amount) },
});
const HOUR = DAY_ZERO + 9 * 3_600_000;

let fixture: Awaited<ReturnType<typeof startFixture>>;
beforeAll(async () => {
  fixture = await startFixture();
});
afterAll(() => fixture.close());

const orderData = (index: number, customer: string) =>
  JSON.stringify({
    type: 'order',
    id: `o${index}`,
    ts: HOUR + (index % 3_600_000),
    customer,
    amount: 100 + (index % 7),
    status: 'paid',
  });

/** Records of one shard: the i-th event has the i-th sequence number. */
const shardRecords = (shardId: string, data: readonly string[], from = 0): KinesisStreamRecord[] =>
  data.map((value, index) =>
    kinesisRecord({ shardId, sequenceNumber: sequenceNumber(from + index), data: value }),
  );

function processorOn(
  client: DynamoDBClient,
  table: string,
  views: readonly ViewDefinition[] = [customers],
  metrics = quietMetrics(),
) {
  return new SpeedProcessor({
    catalogs,
    views,
    store: new DynamoSpeedStore(client, table),
    quarantine: new Quarantine({
      put: async () => {
        throw new Error('nothing is quarantined here');
      },
    } as never),
    logger: quietLogger(),
    metrics,
    retentionMs: 72 * 3_600_000,
  });
}

/** Every item of the table, by sort key. */
async function items(table: string): Promise<Record<string, AttributeValue>[]> {
  const found: Record<string, AttributeValue>[] = [];
  for await (const page of paginateScan({ client: fixture.dynamo }, { TableName: table }))
    found.push(...(page.Items ?? []));
  return found;
}

const sketchOf = (item: Record<string, AttributeValue> | undefined, measure: string): DistinctSketch => {
  const sketch = item === undefined ? undefined : storedSketch(item, measure);
  if (sketch === undefined) throw new Error(`no sketch of ${measure}`);
  return sketch;
};

describe('distinct counts in the speed layer', () => {
  it('merges a redelivered batch once: the same sketch and counters as one delivery', async () => {
    // Prepare: 300 orders of 120 customers, on one shard
    const data = Array.from({ length: 300 }, (_, index) => orderData(index, `c${index % 120}`));
    const once = await fixture.newTable();
    const twice = await fixture.newTable();
    const batches = [data.slice(0, 200), data.slice(200)];
    // Act: the first table gets each batch once; the second gets each twice, and the first again at the end
    for (const [index, batch] of batches.entries())
      await processorOn(fixture.dynamo, once).process(
        kinesisEvent(shardRecords('shardId-0', batch, index * 200)),
      );
    const processor = processorOn(fixture.dynamo, twice);
    for (const [index, batch] of batches.entries()) {
      const event = kinesisEvent(shardRecords('shardId-0', batch, index * 200));
      expect((await processor.process(event)).batchItemFailures).toEqual([]);
      expect((await processor.process(event)).batchItemFailures).toEqual([]);
    }
    await processor.process(kinesisEvent(shardRecords('shardId-0', batches[0] ?? [], 0)));
    // Assess
    const [applied] = await items(once);
    const [redelivered] = await items(twice);
    expect(redelivered?.[sketchAttribute('customers')]?.B).toEqual(
      applied?.[sketchAttribute('customers')]?.B,
    );
    expect(sketchOf(redelivered, 'customers').registers).toEqual(
      DistinctSketch.of(
        customers.distinctPrecision,
        Array.from({ length: 120 }, (_, index) => `c${index}`),
      ).registers,
    );
    const [row] = await new DynamoSpeedStore(fixture.dynamo, twice).readRows(
      customers,
      DAY_ZERO,
      DAY_ZERO + 86_400_000,
      HOUR,
    );
    const exact = compileJs(customers)
      .reduce(data.map((value) => JSON.parse(value)))
      .sorted()[0];
    expect(row?.values.orders).toBe(300n);
    expect(row?.values.revenue).toBe(exact?.values.revenue);
    // The estimate of exactly the 120 customers' sketch, whatever the redeliveries.
    expect(row?.values.customers).toBe(sketchOf(applied, 'customers').roundedEstimate());
  });

  it('reads the estimate each merge writes beside the sketch, never the sketch', async () => {
    // Prepare: 300 orders of 120 customers in one item
    const table = await fixture.newTable();
    const data = Array.from({ length: 300 }, (_, index) => orderData(index, `c${index % 120}`));
    await processorOn(fixture.dynamo, table).process(kinesisEvent(shardRecords('shardId-0', data)));
    const [item] = await items(table);
    const estimate = sketchOf(item, 'customers').roundedEstimate();
    const key = { pk: item?.pk ?? { S: '' }, sk: item?.sk ?? { S: '' } };
    const store = new DynamoSpeedStore(fixture.dynamo, table);
    const read = async () =>
      (await store.readRows(customers, DAY_ZERO, DAY_ZERO + 86_400_000, HOUR))[0]?.values.customers;
    expect(item?.[measureAttribute('customers')]).toEqual({ N: estimate.toString() });
    // Act: bytes that are no sketch where the sketch was (decoded, they would throw)
    await fixture.dynamo.send(
      new UpdateItemCommand({
        TableName: table,
        Key: key,
        UpdateExpression: 'SET #d = :d',
        ExpressionAttributeNames: { '#d': sketchAttribute('customers') },
        ExpressionAttributeValues: { ':d': { B: Buffer.from([9, 9, 9]) } },
      }),
    );
    // Assess
    await expect(read()).resolves.toBe(estimate);
    await expect(store.latestBucket(customers, HOUR + 1)).resolves.toBe(HOUR);
  });

  it('merges two shards writing the same item at once: the sketch of the union, each counter once', async () => {
    // Prepare: two shards, overlapping customers; shard b writes between shard a's read and its write
    const table = await fixture.newTable();
    const a = Array.from({ length: 150 }, (_, index) => orderData(index, `c${index % 100}`));
    const b = Array.from({ length: 150 }, (_, index) => orderData(1_000 + index, `c${50 + (index % 100)}`));
    const other = processorOn(fixture.dynamo, table, [customers]);
    let gets = 0;
    let refused = 0;
    const client = new DynamoDBClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: fixture.dynamoEndpoint,
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        // After shard a's first read of the item, shard b applies its whole batch.
        if (context.commandName === 'GetItemCommand' && gets++ === 0)
          expect((await other.process(kinesisEvent(shardRecords('shardId-b', b)))).batchItemFailures).toEqual(
            [],
          );
        return result;
      },
      { step: 'initialize', name: 'interleaveShardB' },
    );
    client.middlewareStack.add(
      (next, context) => async (args) => {
        try {
          return await next(args);
        } catch (error) {
          if (context.commandName === 'UpdateItemCommand') refused++;
          throw error;
        }
      },
      { step: 'initialize', name: 'countRefusals' },
    );
    const metrics = quietMetrics();
    const published = vi.spyOn(metrics, 'addMetric');
    // Act
    const response = await processorOn(client, table, [customers], metrics).process(
      kinesisEvent(shardRecords('shardId-a', a)),
    );
    // Assess: shard a's first write was refused (b merged meanwhile), its second read saw b's sketch
    expect(response.batchItemFailures).toEqual([]);
    expect(refused).toBe(1);
    expect(gets).toBe(2);
    expect(published).toHaveBeenCalledWith(SPEED_METRICS.sketchMergeRetries.name, 'Count', 1);
    expect(published).toHaveBeenCalledWith(SPEED_METRICS.sketchMergesGivenUp.name, 'Count', 0);
    const [item] = await items(table);
    const union = Array.from({ length: 150 }, (_, index) => `c${index}`);
    expect(sketchOf(item, 'customers').registers).toEqual(
      DistinctSketch.of(customers.distinctPrecision, union).registers,
    );
    expect(item?.m_orders?.N).toBe('300');
    expect(item?.sv?.N).toBe('2');
    client.destroy();
  });

  it('serves the estimate within the stated bound, with the item far under DynamoDB’s limit at the largest sketches', async () => {
    // Prepare: 40,000 orders of 25,000 customers (repeat buyers), 4 distinct measures at precision 16
    const wide = defineView(orderEvents, {
      name: 'wide_distinct',
      version: 1,
      bucket: 'hour',
      distinctPrecision: 16,
      measures: {
        customers: countDistinct(order.customer),
        ids: countDistinct(order.id),
        amounts: countDistinct(order.amount),
        products: countDistinct(order.product),
      },
    });
    const table = await fixture.newTable();
    const processor = processorOn(fixture.dynamo, table, [customers, wide]);
    const data = Array.from({ length: 40_000 }, (_, index) =>
      JSON.stringify({
        type: 'order',
        id: `o${index}`,
        ts: HOUR + index,
        customer: `customer-${(index * 7_919) % 25_000}`,
        product: `p${index % 500}`,
        amount: index,
        status: 'paid',
      }),
    );
    // Act: in Lambda-sized batches
    for (let from = 0; from < data.length; from += 1_000) {
      const response = await processor.process(
        kinesisEvent(shardRecords('shardId-0', data.slice(from, from + 1_000), from)),
      );
      expect(response.batchItemFailures).toEqual([]);
    }
    // Assess
    const store = new DynamoSpeedStore(fixture.dynamo, table);
    const events = data.map((value) => JSON.parse(value));
    for (const view of [customers, wide]) {
      const [row] = await store.readRows(view, DAY_ZERO, DAY_ZERO + 86_400_000, HOUR);
      const [exact] = compileJs(view).reduce(events).sorted();
      for (const [measure, definition] of Object.entries(view.measures)) {
        if (definition.kind !== 'countDistinct') continue;
        const truth = Number(exact?.values[measure]);
        const estimate = Number(row?.values[measure]);
        expect(withinSketchBound(estimate, truth, view.distinctPrecision), `${view.name}.${measure}`).toBe(
          true,
        );
      }
    }
    expect(
      Number((await store.readRows(customers, DAY_ZERO, DAY_ZERO + 86_400_000, HOUR))[0]?.values.orders),
    ).toBe(40_000);
    const [key] = (await items(table)).filter((item) => item.pk?.S?.includes('wide_distinct'));
    const { Item } = await fixture.dynamo.send(
      new GetItemCommand({ TableName: table, Key: { pk: key?.pk ?? { S: '' }, sk: key?.sk ?? { S: '' } } }),
    );
    expect(itemBytes(Item ?? {})).toBeLessThan(DYNAMO_ITEM_LIMIT_BYTES / 2);
  }, 120_000);
});
