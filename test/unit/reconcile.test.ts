import { describe, expect, it } from 'vitest';
import { compareLayers } from '../../functions/batch/reconcile';
import type { ViewRow } from '../../functions/core';

const row = (bucket: number, country: string, revenue: bigint | null, orders: bigint): ViewRow => ({
  bucket,
  group: [country],
  values: { revenue, orders },
});

describe('reconciliation', () => {
  it('reports no drift when both layers hold the same rows', () => {
    const rows = [row(0, 'US', 100n, 2n), row(3_600_000, 'FR', 50n, 1n)];
    const report = compareLayers('run', 'revenue', 0, 7_200_000, ['revenue', 'orders'], rows, rows);
    expect(report).toMatchObject({ rowsCompared: 2, rowsDiffering: 0, driftRatio: 0 });
  });

  it('counts rows that differ or exist in one layer only, and the largest relative difference', () => {
    // Prepare: speed counted a producer duplicate in US and missed FR entirely
    const batch = [row(0, 'US', 100n, 2n), row(0, 'FR', 300n, 3n)];
    const speed = [row(0, 'US', 150n, 3n)];
    // Act
    const report = compareLayers('run', 'revenue', 0, 3_600_000, ['revenue', 'orders'], batch, speed);
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
});
