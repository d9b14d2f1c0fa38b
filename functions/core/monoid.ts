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

type MeasureMonoids<T> = Readonly<Record<Measure['kind'], Monoid<T | null>>>;

/**
 * The measures' monoids over any exact integer type: stated once, used with bigint for stored and
 * served rows, and with the evaluator's number-or-bigint while pre-aggregating.
 */
export function measureMonoids<T extends number | bigint>(
  add: (a: T, b: T) => T,
  zeroCount: T,
): MeasureMonoids<T> {
  const nullable = (combine: (a: T, b: T) => T): Monoid<T | null> => ({
    zero: null,
    plus: (a, b) => (a === null ? b : b === null ? a : combine(a, b)),
  });
  return {
    // count never sees null inputs, so its zero is 0 like COUNT(*) over no rows.
    count: { zero: zeroCount, plus: (a, b) => add(a ?? zeroCount, b ?? zeroCount) },
    sum: nullable(add),
    // biome-ignore lint/complexity/useMathMinMax: bigint operands
    min: nullable((a, b) => (a < b ? a : b)),
    // biome-ignore lint/complexity/useMathMinMax: bigint operands
    max: nullable((a, b) => (a > b ? a : b)),
  };
}

export const MONOIDS: MeasureMonoids<bigint> = measureMonoids<bigint>((a, b) => a + b, 0n);

export function monoidOf(measure: Measure): Monoid<MeasureValue> {
  return MONOIDS[measure.kind];
}
