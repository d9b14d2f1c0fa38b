import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MeasureValue, MONOIDS, type StorageOperation } from '../../functions/core';

const value: fc.Arbitrary<MeasureValue> = fc.option(fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }), {
  nil: null,
});

describe.each(Object.entries(MONOIDS).filter(([kind]) => kind !== 'count'))('the %s monoid', (_, monoid) => {
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
function applyInDynamo(operation: StorageOperation, stored: MeasureValue, delta: bigint): bigint {
  switch (operation) {
    case 'add': // ADD: an absent attribute counts as 0
      return (stored ?? 0n) + delta;
    case 'extreme-min': // SET #m = :v IF attribute_not_exists(#m) OR #m > :v
      return stored === null || stored > delta ? delta : stored;
    case 'extreme-max': // SET #m = :v IF attribute_not_exists(#m) OR #m < :v
      return stored === null || stored < delta ? delta : stored;
  }
}

describe.each(Object.entries(MONOIDS))('the %s monoid in a speed item', (kind, monoid) => {
  const stored = kind === 'count' ? fc.bigInt({ min: 0n, max: 2n ** 70n }) : value;
  const delta = fc.bigInt({ min: kind === 'count' ? 0n : -(2n ** 70n), max: 2n ** 70n });

  it(`is stored by ${monoid.storage}, which computes its plus from the stored value and a delta`, () => {
    fc.assert(
      fc.property(stored, delta, (before, added) => {
        expect(applyInDynamo(monoid.storage, before, added)).toBe(monoid.plus(before, added));
      }),
    );
  });
});
