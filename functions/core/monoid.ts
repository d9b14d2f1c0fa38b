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
 * being smaller / larger (idempotent, so applied from every contribution, redelivered or not).
 */
export type StorageOperation = 'add' | 'extreme-min' | 'extreme-max';

/** A measure kind's monoid with the DynamoDB operation that applies its `plus` to a stored value. */
export interface MeasureMonoid<T> extends Monoid<T> {
  readonly storage: StorageOperation;
}

type MeasureMonoids<T> = Readonly<Record<Measure['kind'], MeasureMonoid<T | null>>>;

/**
 * The measures' monoids over any exact integer type: stated once, used with bigint for stored and
 * served rows, and with the evaluator's number-or-bigint while pre-aggregating.
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

export const MONOIDS: MeasureMonoids<bigint> = measureMonoids<bigint>((a, b) => a + b, 0n);

export function monoidOf(measure: Measure): MeasureMonoid<MeasureValue> {
  return MONOIDS[measure.kind];
}
