import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogs, orderEvents } from '../../events';
import { DuckDbQueryEngine } from '../../functions/adapters/duckdb';
import {
  compileJs,
  compileSql,
  count,
  countDistinct,
  DistinctCountsDoNotAddError,
  defineView,
  fieldsOf,
} from '../../functions/core';
import { jsAnswer } from '../support/differential';

const at = (hh: number, mm: number) => Date.UTC(2026, 10, 25, hh, mm);
const H10 = at(10, 0);
const H11 = at(11, 0);
const order = fieldsOf(orderEvents);

const customers = defineView(orderEvents, {
  name: 'customers',
  version: 1,
  bucket: 'hour',
  groupBy: ['country'],
  measures: {
    customers: countDistinct(order.customer),
    amounts: countDistinct(order.amount),
    orders: count(),
  },
});

const paid = { type: 'order', status: 'paid' } as const;
/**
 * A morning: c1 orders twice in one hour, a producer re-sends o1 with another customer (the dedupe keeps
 * the first copy, so c9 never counts), o4 and o5 have no customer (NULL: not a value), and c1 orders again
 * the next hour (a distinct count is per bucket).
 */
const events = [
  { ...paid, id: 'o1', ts: at(10, 0), country: 'US', customer: 'c1', amount: 1000 },
  { ...paid, id: 'o2', ts: at(10, 5), country: 'US', customer: 'c1', amount: 2500 },
  { ...paid, id: 'o3', ts: at(10, 9), country: 'US', customer: 'c2', amount: 1000 },
  { ...paid, id: 'o4', ts: at(10, 30), country: 'US', amount: 700 },
  { ...paid, id: 'o1', ts: at(10, 0), country: 'US', customer: 'c9', amount: 1000 },
  { ...paid, id: 'o5', ts: at(10, 40), country: 'FR', amount: 300 },
  { ...paid, id: 'o6', ts: at(11, 15), country: 'US', customer: 'c1', amount: 1000 },
];

const expected = [
  { bucket: H10, group: ['FR'], values: { customers: 0n, amounts: 1n, orders: 1n } },
  { bucket: H10, group: ['US'], values: { customers: 2n, amounts: 3n, orders: 4n } },
  { bucket: H11, group: ['US'], values: { customers: 1n, amounts: 1n, orders: 1n } },
];

let engine: DuckDbQueryEngine;
beforeAll(async () => {
  engine = await DuckDbQueryEngine.open(catalogs);
});
afterAll(() => engine.close());

describe('countDistinct in both compilations', () => {
  it('counts distinct non-null values after the dedupe: SQL on DuckDB and JavaScript give the hand-computed rows', async () => {
    // Act
    await engine.useEvents(events);
    const sql = await engine.runView(customers);
    const js = jsAnswer(customers, events);
    // Assess
    expect(sql).toEqual(expected);
    expect(js).toEqual(expected);
  });

  it('writes COUNT(DISTINCT ...) after the dedupe, the same text for both engines', () => {
    const sql = compileSql(customers);
    expect(sql).toContain('COUNT(DISTINCT "customer") AS "customers"');
    expect(sql).toContain('COUNT(DISTINCT "amount") AS "amounts"');
    expect(sql.indexOf('COUNT(DISTINCT')).toBeGreaterThan(sql.indexOf('deduplicated_events AS'));
  });

  it('reduces by key, so the JavaScript count is exact whatever the event order', () => {
    const reversed = compileJs(customers)
      .reduce([...events].reverse())
      .sorted();
    const forward = compileJs(customers).reduce(events).sorted();
    expect(reversed).toEqual(forward);
    const compiled = compileJs(customers);
    expect(compiled.valuesOf(compiled.zeros())).toEqual({ customers: 0n, amounts: 0n, orders: 0n });
    // Without the dedupe, the copy's customer c9 counts: 3 customers in US at 10:00.
    expect(forward.find((row) => row.bucket === H10 && row.group[0] === 'US')?.values.customers).toBe(3n);
  });

  it('refuses to add the rows of two reductions: their distinct counts would count a shared customer twice', () => {
    const compiled = compileJs(customers);
    const rows = compiled.reduce(events.slice(0, 2));
    expect(() => compiled.reduce(events.slice(2), rows)).toThrow(DistinctCountsDoNotAddError);
  });
});
