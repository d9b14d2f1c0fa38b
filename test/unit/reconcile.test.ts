import { describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import { compareLayers, SKETCH_ERROR_ROWS_LISTED } from '../../functions/batch/reconcile';
import {
  count,
  countDistinct,
  DistinctSketch,
  defineView,
  fieldsOf,
  max,
  min,
  sketchErrorBound,
  type ViewRow,
} from '../../functions/core';
import { revenue } from '../../views';

const HOUR = 3_600_000;

const row = (bucket: number, country: string, revenue: bigint | null, orders: bigint): ViewRow => ({
  bucket,
  group: [country],
  values: { revenue, orders },
});

const order = fieldsOf(orderEvents);
const amounts = defineView(orderEvents, {
  name: 'amounts',
  version: 1,
  bucket: 'hour',
  groupBy: ['country'],
  measures: { smallest: min(order.amount), largest: max(order.amount), orders: count() },
});

const amountRow = (bucket: number, country: string, smallest: bigint, largest: bigint, orders: bigint) => ({
  bucket,
  group: [country],
  values: { smallest, largest, orders },
});

describe('reconciliation', () => {
  it('reports no drift when both layers hold the same rows', () => {
    const rows = [row(0, 'US', 100n, 2n), row(HOUR, 'FR', 50n, 1n)];
    const report = compareLayers('run', revenue, { from: 0, to: 2 * HOUR }, rows, rows);
    expect(report).toMatchObject({ rowsCompared: 2, rowsDiffering: 0, driftRatio: 0 });
  });

  it('counts rows that differ or exist in one layer only, and the largest relative difference', () => {
    // Prepare: speed counted a producer duplicate in US and missed FR entirely
    const batch = [row(0, 'US', 100n, 2n), row(0, 'FR', 300n, 3n)];
    const speed = [row(0, 'US', 150n, 3n)];
    // Act
    const report = compareLayers('run', revenue, { from: 0, to: HOUR }, batch, speed);
    // Assess
    expect(report.rowsCompared).toBe(2);
    expect(report.rowsDiffering).toBe(2);
    expect(report.measures).toEqual({
      revenue: { batch: '400', speed: '150', difference: '-250' },
      orders: { batch: '5', speed: '3', difference: '-2' },
    });
    expect(report.driftRatio).toBeCloseTo(0.625, 6);
    expect(report.examples).toHaveLength(2);
  });

  it("totals min and max with their monoids: the range's least and greatest, not a sum of per-row extremes", () => {
    // Prepare: speed missed the only order of one hour; the range's extremes lie in the other hours
    const batch = [
      amountRow(0, 'US', 100n, 900n, 2n),
      amountRow(HOUR, 'US', 400n, 500n, 1n),
      amountRow(2 * HOUR, 'US', 300n, 700n, 2n),
    ];
    const speed = [batch[0], batch[2]] as ViewRow[];
    // Act
    const report = compareLayers('run', amounts, { from: 0, to: 3 * HOUR }, batch, speed);
    // Assess: the extremes agree (summing them would report 800 against 400 and 2100 against 1600)
    expect(report.measures).toEqual({
      smallest: { batch: '100', speed: '100', difference: '0' },
      largest: { batch: '900', speed: '900', difference: '0' },
      orders: { batch: '5', speed: '4', difference: '-1' },
    });
    expect(report.rowsDiffering).toBe(1);
    expect(report.driftRatio).toBeCloseTo(0.2, 6);
  });

  it('reports the difference of the extremes when speed missed the extreme event', () => {
    // Prepare: speed missed the cheapest order, so its least amount is 300 against the batch's 100
    const batch = [amountRow(0, 'US', 100n, 900n, 3n)];
    const speed = [amountRow(0, 'US', 300n, 900n, 2n)];
    // Act
    const report = compareLayers('run', amounts, { from: 0, to: HOUR }, batch, speed);
    // Assess
    expect(report.measures.smallest).toEqual({ batch: '100', speed: '300', difference: '200' });
    expect(report.driftRatio).toBe(2);
  });

  it('has no value for a measure one layer never saw, and counts that as whole drift', () => {
    // Prepare: only the batch view holds the hour
    const batch = [amountRow(0, 'US', 100n, 900n, 1n)];
    // Act
    const report = compareLayers('run', amounts, { from: 0, to: HOUR }, batch, []);
    // Assess
    expect(report.measures.smallest).toEqual({ batch: '100', speed: null, difference: null });
    expect(report.measures.orders).toEqual({ batch: '1', speed: '0', difference: '-1' });
    expect(report.driftRatio).toBe(1);
  });
});

describe('reconciliation of a distinct measure: the sketch error', () => {
  const customers = defineView(orderEvents, {
    name: 'customers',
    version: 1,
    bucket: 'hour',
    groupBy: ['country'],
    measures: { orders: count(), customers: countDistinct(order.customer) },
  });
  const customerRow = (bucket: number, country: string, orders: bigint, distinct: bigint): ViewRow => ({
    bucket,
    group: [country],
    values: { orders, customers: distinct },
  });

  it("reports each settled row's exact count, estimate and relative error against the stated bound, not as drift", () => {
    // Prepare: every order counted alike; estimates 1% off (within 6.5%), 20% off (past it), and exact
    const bound = sketchErrorBound(12);
    const batch = [
      customerRow(0, 'US', 1_500n, 1_000n),
      customerRow(0, 'FR', 150n, 100n),
      customerRow(HOUR, 'US', 9n, 7n),
    ];
    const speed = [
      customerRow(0, 'US', 1_500n, 1_010n),
      customerRow(0, 'FR', 150n, 120n),
      customerRow(HOUR, 'US', 9n, 7n),
    ];
    // Act
    const report = compareLayers('run', customers, { from: 0, to: 2 * HOUR }, batch, speed);
    // Assess: no drift, and the distinct measure has no range total (distinct counts do not add)
    expect(report).toMatchObject({ rowsCompared: 3, rowsDiffering: 0, driftRatio: 0, examples: [] });
    expect(report.measures).toEqual({ orders: { batch: '1659', speed: '1659', difference: '0' } });
    const overFr = { bucket: 0, group: ['FR'], exact: '100', estimate: '120', relativeError: 0.2 };
    expect(report.sketchError).toEqual({
      customers: {
        precision: 12,
        errorBound: bound,
        rowsCompared: 3,
        rowsOverBound: 1,
        meanRelativeError: expect.closeTo(0.07, 9),
        largest: overFr,
        rows: [
          overFr,
          { bucket: 0, group: ['US'], exact: '1000', estimate: '1010', relativeError: 0.01 },
          { bucket: HOUR, group: ['US'], exact: '7', estimate: '7', relativeError: 0 },
        ],
      },
    });
    expect(bound).toBeCloseTo(0.065, 9);
  });

  it("finds a real sketch's estimates within the bound", () => {
    // Prepare: the speed layer's estimate of 1..n distinct customers per hour, rounded as a speed row holds it
    const sizes = [1, 10, 100, 1_000, 10_000];
    const batch = sizes.map((n, index) => customerRow(index * HOUR, 'US', BigInt(n), BigInt(n)));
    const speed = sizes.map((n, index) => {
      const sketch = DistinctSketch.of(
        customers.distinctPrecision,
        Array.from({ length: n }, (_, value) => `customer-${index}-${value}`),
      );
      return customerRow(index * HOUR, 'US', BigInt(n), BigInt(Math.round(sketch.estimate())));
    });
    // Act
    const report = compareLayers('run', customers, { from: 0, to: sizes.length * HOUR }, batch, speed);
    // Assess
    const error = report.sketchError?.customers;
    expect(error?.rowsCompared).toBe(sizes.length);
    expect(error?.rowsOverBound).toBe(0);
    expect(error?.largest?.relativeError).toBeLessThanOrEqual(sketchErrorBound(customers.distinctPrecision));
    expect(report.driftRatio).toBe(0);
  });

  it('still counts a row only one layer has as drift, and lists at most the rows a report holds', () => {
    // Prepare: the speed layer missed one hour; many hours otherwise
    const hours = SKETCH_ERROR_ROWS_LISTED + 5;
    const batch = Array.from({ length: hours }, (_, index) => customerRow(index * HOUR, 'US', 2n, 2n));
    const speed = batch.slice(1);
    // Act
    const report = compareLayers('run', customers, { from: 0, to: hours * HOUR }, batch, speed);
    // Assess
    expect(report.rowsDiffering).toBe(1);
    expect(report.driftRatio).toBeGreaterThan(0);
    expect(report.sketchError?.customers?.rowsCompared).toBe(hours - 1);
    expect(report.sketchError?.customers?.rows).toHaveLength(SKETCH_ERROR_ROWS_LISTED);
  });

  it('has no sketch error section for a view without a distinct measure', () => {
    const rows = [row(0, 'US', 100n, 2n)];
    expect(compareLayers('run', revenue, { from: 0, to: HOUR }, rows, rows)).not.toHaveProperty(
      'sketchError',
    );
  });
});
