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
  SKETCH_ERROR_ABSOLUTE_SLACK,
  sketchRelativeErrorBound,
  type ViewRow,
  withinSketchBound,
} from '../../functions/core';
import { revenue } from '../../views';
import { customers } from '../support/distinct-views';

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
  const customerRow = (bucket: number, country: string, orders: bigint, distinct: bigint): ViewRow => ({
    bucket,
    group: [country],
    values: { orders, customers: distinct },
  });

  it("reports each settled row's exact count, estimate and relative error against the stated bound, not as drift", () => {
    // Prepare: every order counted alike; estimates 1% off (within 6.5%), 20% off (past it), 2 values off
    // of 7 (29%, within the 3 values a small set's estimate may be off), and exact
    const bound = sketchRelativeErrorBound(12);
    const batch = [
      customerRow(0, 'US', 1_500n, 1_000n),
      customerRow(0, 'FR', 150n, 100n),
      customerRow(HOUR, 'US', 9n, 7n),
      customerRow(HOUR, 'FR', 4n, 4n),
    ];
    const speed = [
      customerRow(0, 'US', 1_500n, 1_010n),
      customerRow(0, 'FR', 150n, 120n),
      customerRow(HOUR, 'US', 9n, 9n),
      customerRow(HOUR, 'FR', 4n, 4n),
    ];
    // Act
    const report = compareLayers('run', customers, { from: 0, to: 2 * HOUR }, batch, speed);
    // Assess: no drift, and the distinct measure has no range total (distinct counts do not add)
    expect(report).toMatchObject({ rowsCompared: 4, rowsDiffering: 0, driftRatio: 0, examples: [] });
    expect(report.measures).toEqual({ orders: { batch: '1663', speed: '1663', difference: '0' } });
    const overFr = {
      bucket: 0,
      group: ['FR'],
      exact: '100',
      estimate: '120',
      relativeError: 0.2,
      overBound: true,
    };
    const smallUs = {
      bucket: HOUR,
      group: ['US'],
      exact: '7',
      estimate: '9',
      relativeError: 2 / 7,
      overBound: false,
    };
    expect(report.sketchError).toEqual({
      customers: {
        precision: 12,
        errorBound: bound,
        errorSlack: 3,
        rowsCompared: 4,
        rowsOverBound: 1,
        meanRelativeError: expect.closeTo((0.2 + 0.01 + 2 / 7) / 4, 9),
        largest: smallUs,
        // Past the bound first, though a small set within the slack is further off in ratio.
        rows: [
          overFr,
          smallUs,
          {
            bucket: 0,
            group: ['US'],
            exact: '1000',
            estimate: '1010',
            relativeError: 0.01,
            overBound: false,
          },
          { bucket: HOUR, group: ['FR'], exact: '4', estimate: '4', relativeError: 0, overBound: false },
        ],
      },
    });
    expect(bound).toBeCloseTo(0.065, 9);
    expect(SKETCH_ERROR_ABSOLUTE_SLACK).toBe(3);
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
      return customerRow(index * HOUR, 'US', BigInt(n), sketch.roundedEstimate());
    });
    // Act
    const report = compareLayers('run', customers, { from: 0, to: sizes.length * HOUR }, batch, speed);
    // Assess
    const error = report.sketchError?.customers;
    expect(error?.rowsCompared).toBe(sizes.length);
    expect(error?.rowsOverBound).toBe(0);
    for (const listed of error?.rows ?? [])
      expect(
        withinSketchBound(BigInt(listed.estimate), BigInt(listed.exact), customers.distinctPrecision),
      ).toBe(true);
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

  it('lists at most SKETCH_ERROR_ROWS_LISTED rows over all distinct measures of a report, past the bound first', () => {
    // Prepare: the most distinct measures a view may have, over many hours; a few estimates past the bound
    const wide = defineView(orderEvents, {
      name: 'wide',
      version: 1,
      bucket: 'hour',
      measures: {
        customers: countDistinct(order.customer),
        products: countDistinct(order.product),
        ids: countDistinct(order.id),
        amounts: countDistinct(order.amount),
      },
    });
    const names = Object.keys(wide.measures);
    const hours = SKETCH_ERROR_ROWS_LISTED;
    const rowOf = (bucket: number, value: (name: string) => bigint): ViewRow => ({
      bucket,
      group: [],
      values: Object.fromEntries(names.map((name) => [name, value(name)])),
    });
    const batch = Array.from({ length: hours }, (_, index) => rowOf(index * HOUR, () => 1_000n));
    // Hours 7 and 8 of `amounts` are 10% off (past 6.5%); every other estimate is 1% off.
    const speed = batch.map(({ bucket }) =>
      rowOf(bucket, (name) =>
        name === 'amounts' && (bucket === 7 * HOUR || bucket === 8 * HOUR) ? 1_100n : 1_010n,
      ),
    );
    // Act
    const report = compareLayers('run', wide, { from: 0, to: hours * HOUR }, batch, speed);
    // Assess
    const errors = report.sketchError ?? {};
    const listed = Object.values(errors).flatMap((error) => error.rows);
    expect(listed).toHaveLength(SKETCH_ERROR_ROWS_LISTED);
    expect(errors.amounts?.rows.slice(0, 2).map((row) => [row.bucket, row.overBound])).toEqual([
      [7 * HOUR, true],
      [8 * HOUR, true],
    ]);
    expect(errors.amounts?.rowsOverBound).toBe(2);
    for (const name of names) expect(errors[name]?.rowsCompared).toBe(hours);
    // A report is one DynamoDB item: it stays far below 400 KB.
    expect(JSON.stringify(report).length).toBeLessThan(100_000);
  });

  it('has no sketch error section for a view without a distinct measure', () => {
    const rows = [row(0, 'US', 100n, 2n)];
    expect(compareLayers('run', revenue, { from: 0, to: HOUR }, rows, rows)).not.toHaveProperty(
      'sketchError',
    );
  });
});
