import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DistinctCountsDoNotAddError,
  type MeasureValue,
  MONOIDS,
  type StorageOperation,
} from '../../functions/core';

const value: fc.Arbitrary<MeasureValue> = fc.option(fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }), {
  nil: null,
});

/** The integer measures' monoids: a distinct count's is tested on its own below. */
const INTEGER_MONOIDS = Object.entries(MONOIDS).filter(([kind]) => kind !== 'countDistinct');

describe.each(INTEGER_MONOIDS.filter(([kind]) => kind !== 'count'))('the %s monoid', (_, monoid) => {
  it('has zero as identity', () => {
    fc.assert(
      fc.property(value, (a) => monoid.plus(monoid.zero, a) === a && monoid.plus(a, monoid.zero) === a),
    );
  });

  it('is associative and commutative, so batches can be merged in any order', () => {
    fc.assert(
      fc.property(value, value, value, (a, b, c) => {
        expect(monoid.plus(monoid.plus(a, b), c)).toBe(monoid.plus(a, monoid.plus(b, c)));
        expect(monoid.plus(a, b)).toBe(monoid.plus(b, a));
      }),
    );
  });

  it('ignores nulls as SQL aggregates do, and is null only over nulls', () => {
    expect(monoid.plus(null, null)).toBeNull();
    expect(monoid.plus(null, 5n)).toBe(5n);
  });
});

describe('the count monoid', () => {
  it('adds counts from zero', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 70n }), fc.bigInt({ min: 0n, max: 2n ** 70n }), (a, b) => {
        expect(MONOIDS.count.plus(a, b)).toBe(a + b);
        expect(MONOIDS.count.plus(MONOIDS.count.zero, a)).toBe(a);
      }),
    );
  });
});

describe('exactness', () => {
  it('sums past 2^53 without rounding', () => {
    const big = BigInt(Number.MAX_SAFE_INTEGER);
    expect(MONOIDS.sum.plus(big, big)).toBe(2n * big);
  });
});

/** What DynamoDB leaves in a speed item's attribute after applying a delta with the operation. */
function applyInDynamo(
  operation: Exclude<StorageOperation, 'sketch'>,
  stored: MeasureValue,
  delta: bigint,
): bigint {
  switch (operation) {
    case 'add': // ADD: an absent attribute counts as 0
      return (stored ?? 0n) + delta;
    case 'extreme-min': // SET #m = :v IF attribute_not_exists(#m) OR #m > :v
      return stored === null || stored > delta ? delta : stored;
    case 'extreme-max': // SET #m = :v IF attribute_not_exists(#m) OR #m < :v
      return stored === null || stored < delta ? delta : stored;
  }
}

describe.each(INTEGER_MONOIDS)('the %s monoid in a speed item', (kind, monoid) => {
  const stored = kind === 'count' ? fc.bigInt({ min: 0n, max: 2n ** 70n }) : value;
  const delta = fc.bigInt({ min: kind === 'count' ? 0n : -(2n ** 70n), max: 2n ** 70n });

  it(`is stored by ${monoid.storage}, which computes its plus from the stored value and a delta`, () => {
    fc.assert(
      fc.property(stored, delta, (before, added) => {
        expect(applyInDynamo(monoid.storage as 'add', before, added)).toBe(monoid.plus(before, added));
      }),
    );
  });
});

describe('distinct counts', () => {
  const count = fc.bigInt({ min: 1n, max: 2n ** 40n });

  it('refuse to add two non-zero counts: a value in both would count twice', () => {
    fc.assert(
      fc.property(count, count, (a, b) => {
        expect(() => MONOIDS.countDistinct.plus(a, b)).toThrow(DistinctCountsDoNotAddError);
      }),
    );
    expect(() => MONOIDS.countDistinct.plus(3n, 4n)).toThrow(/cannot add the distinct counts 3 and 4/);
  });

  it('have 0 (no value) as identity: the union with an empty set is exact', () => {
    fc.assert(
      fc.property(count, (a) => {
        expect(MONOIDS.countDistinct.plus(MONOIDS.countDistinct.zero, a)).toBe(a);
        expect(MONOIDS.countDistinct.plus(a, 0n)).toBe(a);
        expect(MONOIDS.countDistinct.plus(null, a)).toBe(a);
      }),
    );
    expect(MONOIDS.countDistinct.plus(0n, 0n)).toBe(0n);
  });

  it('are stored as a sketch, never as a number DynamoDB adds', () => {
    expect(MONOIDS.countDistinct.storage).toBe('sketch');
  });
});
