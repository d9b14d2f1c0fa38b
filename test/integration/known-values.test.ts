import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import { DuckDbQueryEngine } from '../../functions/adapters/duckdb';
import {
  compileJs,
  defineView,
  ExpressionOverflowError,
  fieldsOf,
  sum,
  type ViewRow,
} from '../../functions/core';
import { ordersPerMinute, revenue } from '../../views';
import { tempDir, writeArchive } from '../support/archive';
import { jsAnswer } from '../support/differential';

const at = (hh: number, mm: number, ss = 0, ms = 0) => Date.UTC(2026, 10, 25, hh, mm, ss, ms);
const H10 = at(10, 0);
const H11 = at(11, 0);

/** A morning of orders, with a producer duplicate and two invalid records. */
const orders = [
  {
    id: 'o1',
    ts: at(10, 0),
    customer: 'c1',
    country: 'US',
    product: 'pen',
    amount: 1000,
    discount: 100,
    status: 'paid',
  },
  {
    id: 'o2',
    ts: at(10, 15, 30),
    customer: 'c2',
    country: 'US',
    product: 'book',
    amount: 2500,
    status: 'paid',
  },
  { id: 'o3', ts: at(10, 59, 59, 999), country: 'FR', amount: 4000, discount: 500, status: 'paid' },
  { id: 'o4', ts: at(11, 0), country: 'FR', amount: 1200, discount: null, status: 'paid' },
  { id: 'o5', ts: at(10, 20), country: 'US', amount: 9999, status: 'refunded' },
  { id: 'o6', ts: at(10, 15, 45), country: 'DE', amount: 700, status: 'pending' },
  {
    id: 'o1',
    ts: at(10, 0),
    customer: 'c1',
    country: 'US',
    product: 'pen',
    amount: 1000,
    discount: 100,
    status: 'paid',
  },
  { id: 'o7', ts: at(11, 30), amount: 300, discount: 0, status: 'paid' },
  { id: 'o8', ts: at(10, 5), country: 'US', amount: 100, status: 'shipped' },
  { id: 'o9', ts: at(10, 6), country: 'US', amount: -5, status: 'paid' },
];

// Worked by hand: o1 counted once, o8 (unknown status) and o9 (negative amount) never.
const expectedRevenue: ViewRow[] = [
  { bucket: H10, group: ['FR'], values: { revenue: 3500n, orders: 1n } },
  { bucket: H10, group: ['US'], values: { revenue: 900n + 2500n, orders: 2n } },
  { bucket: H11, group: ['FR'], values: { revenue: 1200n, orders: 1n } },
  { bucket: H11, group: [null], values: { revenue: 300n, orders: 1n } },
];
const expectedOrdersPerMinute: ViewRow[] = [
  { bucket: at(10, 0), group: ['paid'], values: { orders: 1n } },
  { bucket: at(10, 15), group: ['paid'], values: { orders: 1n } },
  { bucket: at(10, 15), group: ['pending'], values: { orders: 1n } },
  { bucket: at(10, 20), group: ['refunded'], values: { orders: 1n } },
  { bucket: at(10, 59), group: ['paid'], values: { orders: 1n } },
  { bucket: at(11, 0), group: ['paid'], values: { orders: 1n } },
  { bucket: at(11, 30), group: ['paid'], values: { orders: 1n } },
];

let engine: DuckDbQueryEngine;
beforeAll(async () => {
  engine = await DuckDbQueryEngine.open(orderEvents);
});
afterAll(() => engine.close());

describe.each([
  ['revenue', revenue, expectedRevenue],
  ['orders_per_minute', ordersPerMinute, expectedOrdersPerMinute],
])('demo view %s on a hand-made morning of orders', (_, view, expected) => {
  it('the JS reducer gives the hand-computed rows', () => {
    expect(jsAnswer(view, orders)).toEqual(expected);
  });

  it('the SQL on DuckDB gives the hand-computed rows', async () => {
    await engine.useEvents(orders);
    expect(await engine.runView(view)).toEqual(expected);
  });

  it('the SQL over an archive folder gives the hand-computed rows', async () => {
    const dir = await tempDir('known');
    await writeArchive(orderEvents, dir, orders);
    await engine.useArchive(dir);
    expect(await engine.runView(view)).toEqual(expected);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('exact sums', () => {
  it('sums past 2^63 exactly in both layers (Trino would overflow SUM of BIGINT)', async () => {
    // Prepare: 1,100 paid orders of 2^53 - 1 cents in one hour and country
    const big = Number.MAX_SAFE_INTEGER;
    const events = Array.from({ length: 1_100 }, (_, index) => ({
      id: `big-${index}`,
      ts: H10 + index,
      country: 'US',
      amount: big,
      status: 'paid',
    }));
    const expected = [
      { bucket: H10, group: ['US'], values: { revenue: 1_100n * BigInt(big), orders: 1_100n } },
    ];
    // Act
    await engine.useEvents(events);
    const sql = await engine.runView(revenue);
    const js = compileJs(revenue).reduce(events).sorted();
    // Assess
    expect(1_100n * BigInt(big) > 2n ** 63n).toBe(true);
    expect(sql).toEqual(expected);
    expect(js).toEqual(expected);
  });

  it('fails in both layers, rather than disagree, when an expression overflows BIGINT', async () => {
    // Prepare
    const order = fieldsOf(orderEvents);
    const view = defineView(orderEvents, {
      name: 'overflowing',
      version: 1,
      bucket: 'hour',
      measures: { scaled: sum(order.amount.times(1_000_000_000)) },
    });
    const events = [{ id: 'x', ts: H10, amount: 10_000_000_000_000, status: 'paid' }];
    await engine.useEvents(events);
    // Act and assess
    expect(() => compileJs(view).reduce(events)).toThrow(ExpressionOverflowError);
    await expect(engine.runView(view)).rejects.toThrow(/overflow/i);
  });
});
