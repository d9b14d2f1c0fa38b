import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BUCKET_WIDTH_MS,
  type BucketWidth,
  bucketStart,
  dayOf,
  isBatchBucket,
  isExactRange,
  lastBatchDay,
  MAX_DAY_TIME,
  newlyBatchRange,
  nextWatermark,
  runAsOf,
  servedWatermark,
  settledStepsEnd,
  sourceOfStep,
  splitAtWatermark,
  type TimeRange,
} from '../../functions/core';

const WIDTHS = Object.keys(BUCKET_WIDTH_MS) as BucketWidth[];
const width = fc.constantFrom(...WIDTHS);
/** Any time a day can be named for. */
const time = fc.integer({ min: 0, max: MAX_DAY_TIME - 1 });
/** Times within a few days, so ranges and watermarks often overlap. */
const nearTime = fc.integer({ min: 0, max: 5 * BUCKET_WIDTH_MS.day });
const range: fc.Arbitrary<TimeRange> = fc
  .tuple(nearTime, nearTime)
  .filter(([a, b]) => a !== b)
  .map(([a, b]) => ({ from: Math.min(a, b), to: Math.max(a, b) }));
/** A range of at most 40 buckets of `bucket`, so a test can walk them. */
const rangeOf = (bucket: BucketWidth): fc.Arbitrary<TimeRange> =>
  fc
    .tuple(nearTime, fc.integer({ min: 1, max: 40 * BUCKET_WIDTH_MS[bucket] }))
    .map(([from, length]) => ({ from, to: from + length }));
/** A watermark of a view bucketed by `bucket`: a boundary of it. */
const watermarkOf = (bucket: BucketWidth) =>
  fc.oneof(
    fc.constant(0),
    nearTime.map((ms) => bucketStart(ms, bucket)),
  );

describe('the watermark a view is served at', () => {
  it('is the committed manifest’s, and 0 (all speed) before any run', () => {
    expect(servedWatermark({ watermark: 7_200_000 })).toBe(7_200_000);
    expect(servedWatermark(null)).toBe(0);
    expect(servedWatermark(undefined)).toBe(0);
  });
});

/** Bounds with the archive complete through the run's start: only the start and settle place W. */
const settledAt = (at: number) => ({ startedAt: at, settleMs: 0, archiveCompleteThrough: at });

describe('the watermark a batch run commits', () => {
  it('is a bucket boundary at or before the settled time, and never moves back', () => {
    fc.assert(
      fc.property(width, time, time, (bucket, settled, previousTime) => {
        const previous = bucketStart(previousTime, bucket);
        const next = nextWatermark(settledAt(settled), bucket, previous);
        expect(next % BUCKET_WIDTH_MS[bucket]).toBe(0);
        expect(next).toBeGreaterThanOrEqual(previous);
        if (previous <= settled) expect(next).toBeLessThanOrEqual(settled);
        // The bucket holding the settled time is the first one the speed layer still serves.
        if (previous <= settled) expect(settled - next).toBeLessThan(BUCKET_WIDTH_MS[bucket]);
      }),
    );
  });

  it('starts the bucket holding the settled time when the previous is earlier (a backfill passes 0)', () => {
    const at = Date.UTC(2026, 0, 1, 10, 59);
    expect(nextWatermark(settledAt(at), 'hour', 0)).toBe(Date.UTC(2026, 0, 1, 10));
    expect(nextWatermark(settledAt(at), 'hour', Date.UTC(2026, 0, 2))).toBe(Date.UTC(2026, 0, 2));
  });

  it('never passes what the archive holds: an event accepted before the run, on time, lies in the archive', () => {
    fc.assert(
      fc.property(
        width,
        // Runs after the first day, so that the archive's position and the events' times are not negative.
        fc.integer({ min: BUCKET_WIDTH_MS.day, max: MAX_DAY_TIME - 1 }),
        fc.integer({ min: 0, max: 2 * BUCKET_WIDTH_MS.hour }),
        fc.integer({ min: 0, max: 4 * 60 * 60_000 }),
        fc.integer({ min: 0, max: 30 * 60_000 }),
        fc.integer({ min: 0, max: 30 * 60_000 }),
        (bucket, startedAt, settleMs, archiveLag, arrivedBefore, lateness) => {
          const bounds = { startedAt, settleMs, archiveCompleteThrough: startedAt - archiveLag };
          const watermark = nextWatermark(bounds, bucket, 0);
          // An event accepted before the run started, no later than the settle time after its event time.
          const arrival = startedAt - arrivedBefore;
          const eventTime = arrival - Math.min(lateness, settleMs);
          if (eventTime < watermark) expect(arrival).toBeLessThan(bounds.archiveCompleteThrough);
          expect(watermark).toBeLessThanOrEqual(runAsOf(bounds) - settleMs);
        },
      ),
    );
  });

  it('trails the archive when its delivery lags the run: the run is exact as of the earlier time', () => {
    const startedAt = Date.UTC(2026, 0, 1, 10, 30, 5);
    const archiveCompleteThrough = Date.UTC(2026, 0, 1, 10, 29, 40);
    expect(runAsOf({ startedAt, archiveCompleteThrough })).toBe(archiveCompleteThrough);
    expect(nextWatermark({ startedAt, settleMs: 0, archiveCompleteThrough }, 'minute', 0)).toBe(
      Date.UTC(2026, 0, 1, 10, 29),
    );
    expect(
      nextWatermark({ startedAt, settleMs: 0, archiveCompleteThrough: startedAt + 60_000 }, 'minute', 0),
    ).toBe(Date.UTC(2026, 0, 1, 10, 30));
  });
});

describe('a range split at the watermark', () => {
  it('covers the range exactly: batch part before W, speed part from W, no gap, no overlap', () => {
    fc.assert(
      fc.property(range, nearTime, (whole, watermark) => {
        const { batch, speed } = splitAtWatermark(whole, watermark);
        const parts = [batch, speed].filter((part): part is TimeRange => part !== null);
        expect(parts[0]?.from).toBe(whole.from);
        expect(parts.at(-1)?.to).toBe(whole.to);
        if (batch !== null && speed !== null) expect(speed.from).toBe(batch.to);
        for (const part of parts) expect(part.from).toBeLessThan(part.to);
        if (batch !== null) expect(batch.to).toBeLessThanOrEqual(watermark);
        if (speed !== null) expect(speed.from).toBeGreaterThanOrEqual(watermark);
      }),
    );
  });

  it('puts each bucket of the range where isBatchBucket says it is served from', () => {
    const case_ = width.chain((bucket) =>
      fc.tuple(fc.constant(bucket), rangeOf(bucket), watermarkOf(bucket)),
    );
    fc.assert(
      fc.property(case_, ([bucket, whole, watermark]) => {
        const { batch, speed } = splitAtWatermark(whole, watermark);
        const step = BUCKET_WIDTH_MS[bucket];
        for (let start = bucketStart(whole.from, bucket); start < whole.to; start += step) {
          const inBatch = batch !== null && start + step > batch.from && start < batch.to;
          const inSpeed = speed !== null && start + step > speed.from && start < speed.to;
          expect(inBatch !== inSpeed).toBe(true);
          expect(inBatch).toBe(isBatchBucket(start, watermark));
        }
      }),
    );
  });

  it('is exact (all batch) just when it has no speed part', () => {
    fc.assert(
      fc.property(range, nearTime, (whole, watermark) => {
        expect(isExactRange(whole, watermark)).toBe(splitAtWatermark(whole, watermark).speed === null);
      }),
    );
  });
});

describe('where a step of a series comes from', () => {
  it('is batch when all its buckets are, speed when none are, and mixed between', () => {
    fc.assert(
      fc.property(width, width, nearTime, time, (viewBucket, step, start, watermarkTime) => {
        fc.pre(BUCKET_WIDTH_MS[step] >= BUCKET_WIDTH_MS[viewBucket]);
        const watermark = bucketStart(watermarkTime % (6 * BUCKET_WIDTH_MS.day), viewBucket);
        const stepStart = bucketStart(start, step);
        const buckets: boolean[] = [];
        const width = BUCKET_WIDTH_MS[viewBucket];
        for (let bucket = stepStart; bucket < stepStart + BUCKET_WIDTH_MS[step]; bucket += width)
          buckets.push(isBatchBucket(bucket, watermark));
        const expected = buckets.every(Boolean) ? 'batch' : buckets.some(Boolean) ? 'mixed' : 'speed';
        expect(sourceOfStep(stepStart, step, watermark)).toBe(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('ends the settled steps of a range where its steps stop being wholly batch', () => {
    fc.assert(
      fc.property(
        width.chain((step) => fc.tuple(fc.constant(step), rangeOf(step), nearTime)),
        ([step, whole, watermark]) => {
          const aligned = { from: bucketStart(whole.from, step), to: whole.to };
          const end = settledStepsEnd(aligned, step, watermark);
          expect(end).toBeGreaterThanOrEqual(aligned.from);
          expect(end).toBeLessThanOrEqual(aligned.to);
          for (let start = aligned.from; start < end; start += BUCKET_WIDTH_MS[step])
            expect(sourceOfStep(start, step, watermark)).toBe('batch');
          // The step at the end, if the range holds it, is not wholly batch.
          if (end < aligned.to && end % BUCKET_WIDTH_MS[step] === 0)
            expect(sourceOfStep(end, step, watermark)).not.toBe('batch');
        },
      ),
    );
  });
});

describe('the buckets a commit moves to the batch view', () => {
  it('are those before the new watermark and not before the previous one', () => {
    fc.assert(
      fc.property(width, nearTime, nearTime, (bucket, a, b) => {
        const [previous, watermark] = [bucketStart(a, bucket), bucketStart(b, bucket)];
        const moved = newlyBatchRange(previous, watermark);
        if (watermark <= previous) expect(moved).toBeNull();
        else expect(moved).toEqual({ from: previous, to: watermark });
        for (const start of [previous - BUCKET_WIDTH_MS[bucket], previous, watermark - 1, watermark]) {
          const flipped = isBatchBucket(start, watermark) && !isBatchBucket(start, previous);
          expect(flipped).toBe(moved !== null && start >= moved.from && start < moved.to);
        }
      }),
    );
  });
});

describe('the last day the batch view covers', () => {
  it('holds the last bucket before W: no day for W 0, the day before a midnight W', () => {
    expect(lastBatchDay(0)).toBeNull();
    expect(lastBatchDay(Date.UTC(2026, 0, 2))).toBe('2026-01-01');
    expect(lastBatchDay(Date.UTC(2026, 0, 2, 1))).toBe('2026-01-02');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_DAY_TIME - 1 }), (watermark) => {
        expect(lastBatchDay(watermark)).toBe(dayOf(watermark - 1));
      }),
    );
  });
});
