import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DISTINCT_PRECISION,
  DistinctSketch,
  MAX_DISTINCT_PRECISION,
  MIN_DISTINCT_PRECISION,
  relativeStandardError,
  SKETCH_ERROR_ABSOLUTE_SLACK,
  SKETCH_ERROR_BOUND_SIGMAS,
  SKETCH_OVER_BOUND_SHARE,
  sketchErrorBound,
  sketchRelativeErrorBound,
  withinSketchBound,
} from '../../functions/core';

/** A fixed seed: the property test checks a stated bound, and a failure must replay as it was. */
const SEED = 170_017;

/** n distinct values: customer ids (strings) or integers, starting anywhere. */
const valuesOf = (kind: 'string' | 'integer', start: number, n: number): (string | number)[] =>
  Array.from({ length: n }, (_, index) => (kind === 'string' ? `customer-${start + index}` : start + index));

/** A small deterministic generator (mulberry32): the splits below follow from the case's seed alone. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * A set of random size (1..200,000, log-uniform so small sets are drawn as often as large ones) at a
 * random precision, split into parts: each value lands in one part, some in a second too (a redelivery),
 * and the parts are merged in a random order, some of them twice.
 */
const arbCase = fc.record({
  precision: fc.integer({ min: MIN_DISTINCT_PRECISION, max: MAX_DISTINCT_PRECISION }),
  logSize: fc.double({ min: 0, max: Math.log10(200_000), noNaN: true }),
  kind: fc.constantFrom<'string' | 'integer'>('string', 'integer'),
  start: fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }),
  parts: fc.integer({ min: 1, max: 8 }),
  repeatShare: fc.double({ min: 0, max: 0.5, noNaN: true }),
  splitSeed: fc.integer(),
});

describe('the distinct sketch', () => {
  it('states its bound: the larger of 4 standard errors of 1.04 / sqrt(2^p) and 3 values', () => {
    expect(SKETCH_ERROR_BOUND_SIGMAS).toBe(4);
    expect(SKETCH_ERROR_ABSOLUTE_SLACK).toBe(3);
    expect(relativeStandardError(12)).toBeCloseTo(1.04 / 64, 12);
    expect(sketchRelativeErrorBound(DEFAULT_DISTINCT_PRECISION)).toBeCloseTo(0.065, 12);
    expect(sketchErrorBound(12, 1_000)).toBeCloseTo(65, 9);
    expect(sketchErrorBound(12, 10)).toBe(3);
    expect(withinSketchBound(13n, 10n, 12)).toBe(true);
    expect(withinSketchBound(14, 10, 12)).toBe(false);
    expect(withinSketchBound(935, 1_000, 12)).toBe(true);
    expect(withinSketchBound(934, 1_000, 12)).toBe(false);
  });

  it('estimates random sets within the stated bound, and a merge of any split (repeats, any order) is the sketch of the union', () => {
    fc.assert(
      fc.property(arbCase, ({ precision, logSize, kind, start, parts, repeatShare, splitSeed }) => {
        // Prepare
        const n = Math.max(1, Math.round(10 ** logSize));
        const values = valuesOf(kind, start, n);
        const draw = random(splitSeed);
        const split: (string | number)[][] = Array.from({ length: parts }, () => []);
        for (const value of values) {
          split[Math.floor(draw() * parts)]?.push(value);
          if (draw() < repeatShare) split[Math.floor(draw() * parts)]?.push(value);
        }
        const order = split.map((_, index) => index).sort(() => draw() - 0.5);
        const repeated = [...order, ...order.filter(() => draw() < 0.3)];
        // Act
        const whole = DistinctSketch.of(precision, values);
        const merged = new DistinctSketch(precision);
        for (const index of repeated) merged.merge(DistinctSketch.of(precision, split[index] ?? []));
        // Assess
        expect(merged.registers).toEqual(whole.registers);
        const estimate = Math.round(whole.estimate());
        expect(
          withinSketchBound(estimate, n, precision),
          `${estimate} for n = ${n} at precision ${precision}`,
        ).toBe(true);
        const decoded = DistinctSketch.decode(whole.encode());
        expect(decoded.precision).toBe(precision);
        expect(decoded.registers).toEqual(whole.registers);
        expect(decoded.estimate()).toBe(whole.estimate());
      }),
      { seed: SEED, numRuns: 60 },
    );
  }, 120_000);

  it('holds small sets (5 to 600 values, where one register collision matters) to the bound at the stated rate', () => {
    // Prepare: per precision, sets of log-uniform sizes; each set's values are its own (a fixed draw)
    const draw = random(SEED);
    const perPrecision = 2_000;
    const overBound: Record<number, string[]> = {};
    for (const precision of [10, 12, 14, 16]) {
      overBound[precision] = [];
      for (let set = 0; set < perPrecision; set++) {
        const n = Math.round(5 * 120 ** draw());
        // Act
        const sketch = DistinctSketch.of(
          precision,
          valuesOf('string', set * 1_000 + precision * 10_000_000, n),
        );
        // Assess (below)
        const estimate = Math.round(sketch.estimate());
        if (!withinSketchBound(estimate, n, precision)) overBound[precision]?.push(`${estimate} for ${n}`);
      }
    }
    for (const [precision, missed] of Object.entries(overBound))
      expect(missed.length, `precision ${precision}: ${missed.join(', ')}`).toBeLessThanOrEqual(
        perPrecision * SKETCH_OVER_BOUND_SHARE,
      );
  }, 30_000);

  it('counts repeats once and tells a string from the integer it spells', () => {
    const sketch = DistinctSketch.of(12, ['a', 'a', 'b', 1, 1, '1']);
    expect(Math.round(sketch.estimate())).toBe(4);
    expect(new DistinctSketch(12).estimate()).toBe(0);
  });

  it('encodes a small set in a few dozen bytes and the worst case under its register count', () => {
    expect(DistinctSketch.of(16, ['one customer']).encode().length).toBeLessThan(100);
    const full = DistinctSketch.of(
      16,
      valuesOf('string', 0, 1_000_000).filter((_, index) => index % 3 === 0),
    );
    // Deflate never grows the registers by more than a few bytes per block.
    expect(full.encode().length).toBeLessThan(2 ** 16 + 64);
  });

  it('refuses a precision outside 10..16, a merge across precisions and bytes that are not a sketch', () => {
    expect(() => new DistinctSketch(9)).toThrow(RangeError);
    expect(() => new DistinctSketch(17)).toThrow(RangeError);
    expect(() => new DistinctSketch(12).merge(new DistinctSketch(13))).toThrow(/cannot merge/);
    expect(() => DistinctSketch.decode(Buffer.from([9, 12]))).toThrow(/not an encoded sketch/);
  });
});
