import { describe, expect, it } from 'vitest';
import {
  distinctStepRefusal,
  omittedFromTop,
  rollUpSeries,
  type ServedRow,
  topGroups,
} from '../../functions/core';
import { revenue } from '../../views';
import { customers } from '../support/distinct-views';

const HOUR = 3_600_000;

const served = (
  bucket: number,
  country: string,
  orders: bigint,
  distinct: bigint,
  source: ServedRow['source'],
): ServedRow => ({ bucket, group: [country], values: { orders, customers: distinct }, source });

describe('series of a view with a distinct measure', () => {
  it('says per bucket whether its distinct values are exact (batch, below W) or sketch estimates (speed)', () => {
    // Prepare: W at 2h; hours 0 and 1 from the batch layer, 2 and 3 from the speed layer
    const rows = [
      served(0, 'US', 5n, 3n, 'batch'),
      served(HOUR, 'FR', 2n, 2n, 'batch'),
      served(2 * HOUR, 'US', 9n, 7n, 'speed'),
      served(3 * HOUR, 'US', 1n, 1n, 'speed'),
    ];
    // Act
    const buckets = rollUpSeries(customers, rows, { step: 'hour', watermark: 2 * HOUR });
    // Assess
    expect(buckets.map(({ start, source, distinct }) => ({ start, source, distinct }))).toEqual([
      { start: 0, source: 'batch', distinct: 'exact' },
      { start: HOUR, source: 'batch', distinct: 'exact' },
      { start: 2 * HOUR, source: 'speed', distinct: 'sketch' },
      { start: 3 * HOUR, source: 'speed', distinct: 'sketch' },
    ]);
    expect(buckets[2]?.groups).toEqual([{ key: { country: 'US' }, values: { orders: 9, customers: 7 } }]);
  });

  it('leaves the answers of views without a distinct measure as they were: no `distinct`', () => {
    const rows: ServedRow[] = [
      { bucket: 0, group: ['US'], values: { revenue: 10n, orders: 1n }, source: 'batch' },
      { bucket: HOUR, group: ['US'], values: { revenue: 20n, orders: 2n }, source: 'speed' },
    ];
    const buckets = rollUpSeries(revenue, rows, { step: 'hour', watermark: HOUR });
    expect(buckets).toEqual([
      { start: 0, source: 'batch', groups: [{ key: { country: 'US' }, values: { revenue: 10, orders: 1 } }] },
      {
        start: HOUR,
        source: 'speed',
        groups: [{ key: { country: 'US' }, values: { revenue: 20, orders: 2 } }],
      },
    ]);
  });

  it('refuses a step coarser than the bucket: distinct counts of different buckets do not add', () => {
    const refusal = distinctStepRefusal(customers, 'day');
    expect(refusal).toMatch(/distinct counts of different buckets do not add/);
    expect(refusal).toMatch(/define a view with a coarser bucket \(day\)/);
    expect(refusal).toContain('customers');
    // The view's own bucket is served; a view without a distinct measure rolls up as before.
    expect(distinctStepRefusal(customers, 'hour')).toBeNull();
    expect(distinctStepRefusal(revenue, 'day')).toBeNull();
    // The roll-up itself will not add them either, whoever asks.
    expect(() =>
      rollUpSeries(customers, [served(0, 'US', 1n, 1n, 'batch')], { step: 'day', watermark: HOUR }),
    ).toThrow(/do not add/);
  });
});

describe('top groups of a view with a distinct measure', () => {
  it('omits the distinct measures over more than one bucket and says why; over one it keeps them', () => {
    expect(omittedFromTop(customers, 1)).toEqual([]);
    expect(omittedFromTop(revenue, 48)).toEqual([]);
    const omitted = omittedFromTop(customers, 3);
    expect(omitted).toEqual([
      { measure: 'customers', reason: expect.stringMatching(/is not the sum of theirs/) },
    ]);
  });

  it('ranks by the other measures over the range with the distinct ones left out of the values', () => {
    // Prepare: FR has more orders over the two hours, US more distinct customers in each
    const rows = [
      served(0, 'US', 3n, 3n, 'batch'),
      served(0, 'FR', 4n, 1n, 'batch'),
      served(HOUR, 'US', 2n, 2n, 'speed'),
      served(HOUR, 'FR', 4n, 1n, 'speed'),
    ];
    // Act
    const groups = topGroups(customers, rows, { measure: 'orders', limit: 10, omit: ['customers'] });
    // Assess
    expect(groups).toEqual([
      { key: { country: 'FR' }, values: { orders: 8 } },
      { key: { country: 'US' }, values: { orders: 5 } },
    ]);
    expect(() =>
      topGroups(customers, rows, { measure: 'customers', limit: 10, omit: ['customers'] }),
    ).toThrow(/omitted/);
  });

  it('ranks by a distinct measure within one bucket', () => {
    const rows = [served(0, 'US', 3n, 3n, 'batch'), served(0, 'FR', 4n, 1n, 'batch')];
    const groups = topGroups(customers, rows, { measure: 'customers', limit: 1 });
    expect(groups).toEqual([{ key: { country: 'US' }, values: { orders: 3, customers: 3 } }]);
  });
});
