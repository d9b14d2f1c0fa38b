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

const nullable = (combine: (a: bigint, b: bigint) => bigint): Monoid<MeasureValue> => ({
  zero: null,
  plus: (a, b) => (a === null ? b : b === null ? a : combine(a, b)),
});

export const MONOIDS: Readonly<Record<Measure['kind'], Monoid<MeasureValue>>> = {
  // count never sees null inputs, so its zero is 0 like COUNT(*) over no rows.
  count: { zero: 0n, plus: (a, b) => (a ?? 0n) + (b ?? 0n) },
  sum: nullable((a, b) => a + b),
  // biome-ignore lint/complexity/useMathMinMax: bigint operands
  min: nullable((a, b) => (a < b ? a : b)),
  // biome-ignore lint/complexity/useMathMinMax: bigint operands
  max: nullable((a, b) => (a > b ? a : b)),
};

export function monoidOf(measure: Measure): Monoid<MeasureValue> {
  return MONOIDS[measure.kind];
}
