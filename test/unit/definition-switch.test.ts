import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BUCKET_WIDTH_MS,
  type BucketWidth,
  bucketStart,
  definitionSwitchFrom,
  MAX_DAY_TIME,
  maySwitchDefinition,
} from '../../functions/core';

const width = fc.constantFrom(...(Object.keys(BUCKET_WIDTH_MS) as BucketWidth[]));
const time = fc.integer({ min: 0, max: MAX_DAY_TIME - BUCKET_WIDTH_MS.day });
const MINUTE = BUCKET_WIDTH_MS.minute;
/** Any switch margin up to a day (the stage's default is 180 s). */
const margin = fc.integer({ min: 0, max: BUCKET_WIDTH_MS.day });

describe('when a new view version may replace the served one', () => {
  it('only at a watermark whose every bucket from W on starts at or after the speed counting began, plus the margin', () => {
    fc.assert(
      fc.property(width, time, time, margin, (bucket, countingSince, watermarkTime, marginMs) => {
        // Prepare: any watermark, a bucket boundary
        const watermark = bucketStart(watermarkTime, bucket);
        // Act
        const may = maySwitchDefinition(watermark, countingSince, bucket, marginMs);
        // Assess: the first bucket from W on (W itself) starts at or after countingSince + margin, or no switch
        expect(may).toBe(watermark >= countingSince + marginMs);
      }),
    );
  });

  it('first at the bucket boundary at or after the time speed counting began plus the margin', () => {
    fc.assert(
      fc.property(width, time, margin, (bucket, countingSince, marginMs) => {
        // Act
        const from = definitionSwitchFrom(countingSince, bucket, marginMs) as number;
        // Assess: a boundary, not before countingSince + margin, and the boundary before it is
        expect(from % BUCKET_WIDTH_MS[bucket]).toBe(0);
        expect(from).toBeGreaterThanOrEqual(countingSince + marginMs);
        expect(from - BUCKET_WIDTH_MS[bucket]).toBeLessThan(countingSince + marginMs);
        expect(maySwitchDefinition(from, countingSince, bucket, marginMs)).toBe(true);
        expect(maySwitchDefinition(from - BUCKET_WIDTH_MS[bucket], countingSince, bucket, marginMs)).toBe(
          false,
        );
      }),
    );
    expect(definitionSwitchFrom(10 * MINUTE, 'minute', 0)).toBe(10 * MINUTE);
    expect(definitionSwitchFrom(10 * MINUTE + 1, 'minute', 0)).toBe(11 * MINUTE);
    // The stage's default margin: counting began at 10:00:30, old code may have counted alone until 10:03:30
    expect(definitionSwitchFrom(10 * MINUTE + 30_000, 'minute', 180_000)).toBe(14 * MINUTE);
  });

  it('never while no speed function has counted the new version', () => {
    fc.assert(
      fc.property(width, time, (bucket, watermarkTime) => {
        expect(definitionSwitchFrom(null, bucket, 0)).toBeNull();
        expect(maySwitchDefinition(bucketStart(watermarkTime, bucket), null, bucket, 0)).toBe(false);
      }),
    );
  });
});
