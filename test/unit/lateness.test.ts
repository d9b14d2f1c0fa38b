import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  arrivedAfterExact,
  autoSettle,
  emptyLatenessHistogram,
  LATENESS_BIN_EDGES_MS,
  LATENESS_BINS,
  latenessBin,
  latenessBinUpperEdge,
  latenessEvents,
  latenessHistogramOf,
  latenessQuantile,
  latenessSummary,
  mergeLatenessHistograms,
} from '../../functions/core/lateness';

const MINUTE = 60_000;
const lateness = fc.integer({ min: -3_600_000, max: 10 * 86_400_000 });
const histogram = fc.array(lateness, { maxLength: 200 }).map(latenessHistogramOf);
/** Shares with at most four decimals, so the test's exact check needs no float. */
const share = fc.integer({ min: 1, max: 10_000 }).map((tenThousandths) => tenThousandths / 10_000);

/** Events at or below bin `bin`, and whether that is at least `share` of all, in integers. */
const covers = (counts: readonly number[], bin: number, shareOf: number) => {
  const covered = counts.slice(0, bin + 1).reduce((sum, count) => sum + count, 0);
  return covered * 10_000 >= Math.round(shareOf * 10_000) * latenessEvents(counts);
};

describe('lateness bins', () => {
  it('puts each lateness in the one bin whose edges hold it', () => {
    fc.assert(
      fc.property(lateness, (ms) => {
        const bin = latenessBin(ms);
        expect(ms).toBeLessThan(latenessBinUpperEdge(bin));
        if (bin > 0) expect(ms).toBeGreaterThanOrEqual(latenessBinUpperEdge(bin - 1));
      }),
    );
  });

  it('keeps event times ahead of their arrival apart, and everything past 7 days in the open last bin', () => {
    expect(latenessBin(-1)).toBe(0);
    expect(latenessBin(0)).toBe(1);
    expect(latenessBin(999)).toBe(1);
    expect(latenessBin(1_000)).toBe(2);
    expect(latenessBin(7 * 86_400_000)).toBe(LATENESS_BINS - 1);
    expect(latenessBinUpperEdge(LATENESS_BINS - 1)).toBe(Number.POSITIVE_INFINITY);
    expect(LATENESS_BIN_EDGES_MS).toEqual([...LATENESS_BIN_EDGES_MS].sort((a, b) => a - b));
  });
});

describe('the lateness histogram monoid', () => {
  it('has the empty histogram as identity', () => {
    fc.assert(
      fc.property(histogram, (a) => {
        expect(mergeLatenessHistograms(a, emptyLatenessHistogram())).toEqual(a);
        expect(mergeLatenessHistograms(emptyLatenessHistogram(), a)).toEqual(a);
      }),
    );
  });

  it('is associative and commutative, so hours and invocations merge in any order', () => {
    fc.assert(
      fc.property(histogram, histogram, histogram, (a, b, c) => {
        expect(mergeLatenessHistograms(mergeLatenessHistograms(a, b), c)).toEqual(
          mergeLatenessHistograms(a, mergeLatenessHistograms(b, c)),
        );
        expect(mergeLatenessHistograms(a, b)).toEqual(mergeLatenessHistograms(b, a));
      }),
    );
  });

  it('merges two sets of events into the histogram of their union', () => {
    fc.assert(
      fc.property(fc.array(lateness), fc.array(lateness), (a, b) => {
        expect(mergeLatenessHistograms(latenessHistogramOf(a), latenessHistogramOf(b))).toEqual(
          latenessHistogramOf([...a, ...b]),
        );
      }),
    );
  });
});

describe('latenessQuantile', () => {
  it('is the smallest bin edge below which at least the share of the events arrived', () => {
    fc.assert(
      fc.property(histogram, share, (counts, shareOf) => {
        const quantile = latenessQuantile(counts, shareOf);
        if (latenessEvents(counts) === 0) {
          expect(quantile).toBeNull();
          return;
        }
        const bin =
          quantile === Number.POSITIVE_INFINITY
            ? LATENESS_BINS - 1
            : LATENESS_BIN_EDGES_MS.indexOf(quantile as number);
        expect(covers(counts, bin, shareOf)).toBe(true);
        if (bin > 0) expect(covers(counts, bin - 1, shareOf)).toBe(false);
      }),
    );
  });

  it('reads 99.9% of 1,000 events as the edge the 999th one is under, not one bin further', () => {
    const counts = latenessHistogramOf([...Array<number>(999).fill(90_000), 3 * 3_600_000]);
    expect(latenessQuantile(counts, 0.999)).toBe(2 * MINUTE);
    expect(latenessQuantile(counts, 1)).toBe(6 * 3_600_000);
  });
});

describe('autoSettle', () => {
  const bounds = { minMs: MINUTE, maxMs: 180 * MINUTE };

  it('covers the share within its bounds, in whole minutes, one minute at most past the bin edge', () => {
    fc.assert(
      fc.property(histogram, share, (counts, shareOf) => {
        const settle = autoSettle(counts, { ...bounds, share: shareOf });
        expect(settle % MINUTE).toBe(0);
        expect(settle).toBeGreaterThanOrEqual(bounds.minMs);
        expect(settle).toBeLessThanOrEqual(bounds.maxMs);
        const quantile = latenessQuantile(counts, shareOf);
        if (quantile === null) {
          expect(settle).toBe(bounds.maxMs);
          return;
        }
        // Every event below the settle time counts as covered: at least the share, unless the maximum cut it.
        if (settle < bounds.maxMs) {
          expect(settle).toBeGreaterThanOrEqual(quantile);
          expect(settle - Math.max(quantile, bounds.minMs)).toBeLessThan(MINUTE);
        }
      }),
    );
  });

  it('learns 5 minutes from events 2 to 4 minutes late, and clamps a week-late tail to the maximum', () => {
    const latenesses = Array.from({ length: 1_000 }, (_, i) => 2 * MINUTE + i * 120);
    expect([Math.min(...latenesses), Math.max(...latenesses)]).toEqual([2 * MINUTE, 4 * MINUTE - 120]);
    const recent = latenessHistogramOf(latenesses);
    expect(autoSettle(recent, { ...bounds, share: 0.999 })).toBe(5 * MINUTE);
    const tail = latenessHistogramOf([...Array<number>(10).fill(1_000), 8 * 86_400_000]);
    expect(autoSettle(tail, { ...bounds, share: 0.999 })).toBe(bounds.maxMs);
    expect(autoSettle(tail, { ...bounds, share: 0.9 })).toBe(bounds.minMs);
    expect(autoSettle(emptyLatenessHistogram(), { ...bounds, share: 0.999 })).toBe(bounds.maxMs);
  });
});

describe('latenessSummary', () => {
  it('reports quantiles as bin edges and the share of events restated, null quantiles past 7 days', () => {
    const counts = latenessHistogramOf([...Array<number>(98).fill(500), 40_000, 9 * 86_400_000]);
    const late = latenessHistogramOf([500, 40_000]);
    expect(latenessSummary({ histogram: counts, lateAfterExact: late })).toEqual({
      events: 100,
      p50Ms: 1_000,
      p99Ms: MINUTE,
      p999Ms: null,
      lateAfterExact: 2,
      lateAfterExactShare: 0.02,
    });
  });
});

describe('arrivedAfterExact', () => {
  const noon = Date.UTC(2026, 10, 25, 12);
  const exactness = { watermark: noon, lastRunStartedAt: noon + 10 * MINUTE };

  it('counts an event in a bucket below W that arrived once the run committing W had started', () => {
    expect(arrivedAfterExact(noon - MINUTE, noon + 10 * MINUTE, exactness)).toBe(true);
    expect(arrivedAfterExact(noon - 3_600_000, noon + 50 * MINUTE, exactness)).toBe(true);
  });

  it('does not count an event that arrived before that run started: it was in its input, even if counted late', () => {
    // A speed backlog: the event is counted after the commit, but it arrived before the run read the archive.
    expect(arrivedAfterExact(noon - MINUTE, noon + 10 * MINUTE - 1, exactness)).toBe(false);
  });

  it('does not count an event at or above W, nor any before the first run', () => {
    expect(arrivedAfterExact(noon, noon + 30 * MINUTE, exactness)).toBe(false);
    expect(arrivedAfterExact(0, noon, { watermark: 0, lastRunStartedAt: null })).toBe(false);
  });
});

describe('lateness summary of stored counts', () => {
  it('never reports a late-after-exact share above 1: late events are counted in the bins of all events', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(lateness, fc.boolean())), (events) => {
        const summary = latenessSummary({
          histogram: latenessHistogramOf(events.map(([ms]) => ms)),
          lateAfterExact: latenessHistogramOf(events.filter(([, late]) => late).map(([ms]) => ms)),
        });
        expect(summary.lateAfterExactShare).toBeGreaterThanOrEqual(0);
        expect(summary.lateAfterExactShare).toBeLessThanOrEqual(1);
      }),
    );
  });
});
