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

describe('when a new view version may replace the served one', () => {
  it('only at a watermark whose every bucket from W on starts at or after the speed counting began', () => {
    fc.assert(
      fc.property(width, time, time, (bucket, countingSince, watermarkTime) => {
        // Prepare: any watermark, a bucket boundary
        const watermark = bucketStart(watermarkTime, bucket);
        // Act
        const may = maySwitchDefinition(watermark, countingSince, bucket);
        // Assess: the first bucket from W on (W itself) starts at or after countingSince, or no switch
        expect(may).toBe(watermark >= countingSince);
      }),
    );
  });

  it('first at the bucket boundary at or after the time speed counting began', () => {
    fc.assert(
      fc.property(width, time, (bucket, countingSince) => {
        // Act
        const from = definitionSwitchFrom(countingSince, bucket) as number;
        // Assess: a boundary, not before countingSince, and the boundary before it is
        expect(from % BUCKET_WIDTH_MS[bucket]).toBe(0);
        expect(from).toBeGreaterThanOrEqual(countingSince);
        expect(from - BUCKET_WIDTH_MS[bucket]).toBeLessThan(countingSince);
        expect(maySwitchDefinition(from, countingSince, bucket)).toBe(true);
        expect(maySwitchDefinition(from - BUCKET_WIDTH_MS[bucket], countingSince, bucket)).toBe(false);
      }),
    );
    expect(definitionSwitchFrom(10 * MINUTE, 'minute')).toBe(10 * MINUTE);
    expect(definitionSwitchFrom(10 * MINUTE + 1, 'minute')).toBe(11 * MINUTE);
  });

  it('never while no speed function has counted the new version', () => {
    fc.assert(
      fc.property(width, time, (bucket, watermarkTime) => {
        expect(definitionSwitchFrom(null, bucket)).toBeNull();
        expect(maySwitchDefinition(bucketStart(watermarkTime, bucket), null, bucket)).toBe(false);
      }),
    );
  });
});
