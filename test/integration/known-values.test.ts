import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogs, orderEvents } from '../../events';
import { DuckDbQueryEngine } from '../../functions/adapters/duckdb';
import {
  compileDistantCopiesSql,
  compileJs,
  compileSql,
  daysAffectedBy,
  defineView,
  ExpressionOverflowError,
  fieldsOf,
  parseDistantCopiesRow,
  sum,
  type ViewRow,
} from '../../functions/core';
import { ordersPerMinute, revenue } from '../../views';
import { tempDir, writeArchive } from '../support/archive';
import { jsAnswer } from '../support/differential';
import { sentOrders } from '../support/events';

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
  engine = await DuckDbQueryEngine.open(catalogs);
});
afterAll(() => engine.close());

describe.each([
  ['revenue', revenue, expectedRevenue],
  ['orders_per_minute', ordersPerMinute, expectedOrdersPerMinute],
])('demo view %s on a hand-made morning of orders', (_, view, expected) => {
  it('the JS reducer gives the hand-computed rows', () => {
    expect(jsAnswer(view, sentOrders(orders))).toEqual(expected);
  });

  it('the SQL on DuckDB gives the hand-computed rows', async () => {
    await engine.useEvents(sentOrders(orders));
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
    await engine.useEvents(sentOrders(events));
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
    await engine.useEvents(sentOrders(events));
    // Act and assess
    expect(() => compileJs(view).reduce(events)).toThrow(ExpressionOverflowError);
    await expect(engine.runView(view)).rejects.toThrow(/overflow/i);
  });
});

describe('producer duplicates across days, with the default horizon of one day', () => {
  // Prepare: four days of paid orders; copies re-sent with another time
  const day = (n: number, hh: number, mm = 0) => Date.UTC(2026, 10, 25 + n, hh, mm);
  const D1 = '2026-11-25';
  const D2 = '2026-11-26';
  const D3 = '2026-11-27';
  const paid = (id: string, ts: number, country: string, amount: number) => ({
    id,
    ts,
    country,
    amount,
    status: 'paid',
  });
  const resent = [
    // c1: re-sent the next day, counted once, on D1
    paid('c1', day(0, 10), 'US', 1000),
    paid('c1', day(1, 9), 'US', 1000),
    // c2: re-sent two days later, further apart than the horizon: counted on D1 and on D3
    paid('c2', day(0, 11), 'FR', 500),
    paid('c2', day(2, 11), 'FR', 500),
    // c3: a chain D1, D2, D3, each a day after the one before: counted once, on D1
    paid('c3', day(0, 12), 'DE', 700),
    paid('c3', day(1, 12), 'DE', 700),
    paid('c3', day(2, 12), 'DE', 700),
    // c4: two copies on D2 differing in amount: the earlier counts
    paid('c4', day(1, 8, 30), 'US', 999),
    paid('c4', day(1, 8), 'US', 300),
    paid('c5', day(2, 13), 'FR', 200),
  ];
  const row = (bucket: number, country: string, revenueCents: bigint): ViewRow => ({
    bucket,
    group: [country],
    values: { revenue: revenueCents, orders: 1n },
  });
  // Worked by hand from the rule: first copy of the day, and no copy of the id the day before.
  const d1 = [row(day(0, 10), 'US', 1000n), row(day(0, 11), 'FR', 500n), row(day(0, 12), 'DE', 700n)];
  const d2 = [row(day(1, 8), 'US', 300n)];
  const d3 = [row(day(2, 11), 'FR', 500n), row(day(2, 13), 'FR', 200n)];

  it('the JS reference over every copy gives the hand-computed rows', () => {
    expect(jsAnswer(revenue, sentOrders(resent))).toEqual([...d1, ...d2, ...d3]);
  });

  it('the SQL over every day gives the same rows', async () => {
    await engine.useEvents(sentOrders(resent));
    expect(await engine.runView(revenue)).toEqual([...d1, ...d2, ...d3]);
  });

  it.each([
    ['D2', [D2], d2],
    ['D3', [D3], d3],
    ['D2 and D3', [D2, D3], [...d2, ...d3]],
  ])(
    'the SQL recomputing only %s reads the day before and gives that day its rows',
    async (_, days, expected) => {
      await engine.useEvents(sentOrders(resent));
      expect(await engine.runView(revenue, compileSql(revenue, { days }))).toEqual(expected);
    },
  );

  it('the SQL over an archive folder recomputing only D3 gives its rows', async () => {
    const dir = await tempDir('resent');
    await writeArchive(orderEvents, dir, resent);
    await engine.useArchive(dir);
    expect(await engine.runView(revenue, compileSql(revenue, { dayRanges: [[D3, D3]] }))).toEqual(d3);
    await rm(dir, { recursive: true, force: true });
  });

  it('a change to D1 marks D1 and D2 for recompute, not D3', () => {
    expect(daysAffectedBy([D1], orderEvents.dedupeHorizonDays)).toEqual([D1, D2]);
  });

  it.each([
    ['every day', undefined, [{ id: 'c2', days: [D1, D3] }]],
    ['D2 and D3 (reading D1)', [D2, D3], [{ id: 'c2', days: [D1, D3] }]],
    ['D3 (reading D2, not D1)', [D3], []],
  ])('the distant-copies report over %s lists the ids it sees counted twice', async (_, days, expected) => {
    await engine.useEvents(sentOrders(resent));
    const rows = await engine.query(compileDistantCopiesSql(orderEvents, days === undefined ? {} : { days }));
    expect(rows.map(parseDistantCopiesRow)).toEqual(expected);
  });
});
