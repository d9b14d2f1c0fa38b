import { describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import { compareLayers } from '../../functions/batch/reconcile';
import { count, defineView, fieldsOf, max, min, type ViewRow } from '../../functions/core';
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
