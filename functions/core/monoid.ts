import { DistinctCountsDoNotAddError } from './errors';
import type { Measure } from './view';

/** A measure's value: exact integers; null for sum/min/max over no non-null input (as in SQL). */
export type MeasureValue = bigint | null;

/**
 * Every measure is a commutative monoid. Pre-aggregation in the speed layer, its DynamoDB `ADD`s,
 * the batch load and the serving merge all combine partial results with the same `plus`.
 */
export interface Monoid<T> {
  readonly zero: T;
  plus(a: T, b: T): T;
}

/**
 * How a speed item holds a measure in DynamoDB, which must compute the monoid's `plus` of the stored
 * value and a delta: `add`, an `ADD` (an absent attribute counts as 0; not idempotent, so applied once
 * under the shard's checkpoint); `extreme-min` / `extreme-max`, a `SET` conditional on the new value
 * being smaller / larger (idempotent, so applied from every contribution, redelivered or not);
 * `sketch`, a HyperLogLog of the values (`sketch.ts`) read, merged with the delta's values and `SET`
 * back, conditional on nobody having written it since the read (its value is the sketch's estimate).
 */
export type StorageOperation = 'add' | 'extreme-min' | 'extreme-max' | 'sketch';

/** A measure kind's monoid with the DynamoDB operation that applies its `plus` to a stored value. */
export interface MeasureMonoid<T> extends Monoid<T> {
  readonly storage: StorageOperation;
}

/** The measure kinds whose partial values are integers; a distinct count's partial value is a set. */
export type IntegerMeasureKind = Exclude<Measure['kind'], 'countDistinct'>;

type MeasureMonoids<T> = Readonly<Record<IntegerMeasureKind, MeasureMonoid<T | null>>>;

/**
 * The integer measures' monoids over any exact integer type: stated once, used with bigint for stored
 * and served rows, and with the evaluator's number-or-bigint while pre-aggregating.
 */
export function measureMonoids<T extends number | bigint>(
  add: (a: T, b: T) => T,
  zeroCount: T,
): MeasureMonoids<T> {
  const nullable = (storage: StorageOperation, combine: (a: T, b: T) => T): MeasureMonoid<T | null> => ({
    zero: null,
    plus: (a, b) => (a === null ? b : b === null ? a : combine(a, b)),
    storage,
  });
  return {
    // count never sees null inputs, so its zero is 0 like COUNT(*) over no rows.
    count: { zero: zeroCount, plus: (a, b) => add(a ?? zeroCount, b ?? zeroCount), storage: 'add' },
    sum: nullable('add', add),
    // biome-ignore lint/complexity/useMathMinMax: bigint operands
    min: nullable('extreme-min', (a, b) => (a < b ? a : b)),
    // biome-ignore lint/complexity/useMathMinMax: bigint operands
    max: nullable('extreme-max', (a, b) => (a > b ? a : b)),
  };
}

/**
 * A distinct measure's partial value while pre-aggregating: its non-null values, exactly (null before
 * any). `compileJs`'s `accumulate` grows one set per key in place, the union without a set per event.
 */
export type DistinctSet = Set<number | bigint | string>;

/**
 * A final distinct count's "monoid": counts of two sets do not add (their union is not known from
 * them), so `plus` refuses any two non-zero counts rather than answer a wrong number. Zero (no value)
 * is its identity: the union with an empty set is exact. Where distinct values do merge, they are
 * sets (`DistinctSet`) or sketches (`DistinctSketch.merge`), never counts.
 */
const DISTINCT_COUNT_MONOID: MeasureMonoid<bigint | null> = {
  zero: 0n,
  plus: (a, b) => {
    if (a === null || a === 0n) return b ?? 0n;
    if (b === null || b === 0n) return a;
    throw new DistinctCountsDoNotAddError(a, b);
  },
  storage: 'sketch',
};

export const MONOIDS: Readonly<Record<Measure['kind'], MeasureMonoid<MeasureValue>>> = {
  ...measureMonoids<bigint>((a, b) => a + b, 0n),
  countDistinct: DISTINCT_COUNT_MONOID,
};

export function monoidOf(measure: Measure): MeasureMonoid<MeasureValue> {
  return MONOIDS[measure.kind];
}
