import { BUCKET_WIDTH_MS, type BucketWidth, bucketStart, dayOf } from './keys';

/**
 * The watermark W of a view, every rule about it in one place: buckets before W are served from the
 * batch view (exact), buckets from W on from the speed layer. W is a bucket boundary, 0 before the first
 * committed run, and never moves back (but for a backfill, which recomputes all history).
 */

/** A half-open range of epoch milliseconds, [from, to). */
export interface TimeRange {
  readonly from: number;
  readonly to: number;
}

/** The watermark a view is served at: its committed manifest's, or 0 (all speed) before any run. */
export function servedWatermark(manifest: { readonly watermark: number } | null | undefined): number {
  return manifest?.watermark ?? 0;
}

/**
 * The watermark a batch run commits: the start of the view's bucket holding `settledAt` (now less the
 * settle time), unless the previous watermark is later (a backfill passes `previous` 0).
 */
export function nextWatermark(settledAt: number, bucket: BucketWidth, previous: number): number {
  return Math.max(bucketStart(settledAt, bucket), previous);
}

/** Whether a bucket starting at `bucket` is served from the batch view. */
export function isBatchBucket(bucket: number, watermark: number): boolean {
  return bucket < watermark;
}

/**
 * [from, to) split at W: the part read from the batch view and the part read from the speed layer;
 * `null` for an empty part.
 */
export function splitAtWatermark(
  range: TimeRange,
  watermark: number,
): { readonly batch: TimeRange | null; readonly speed: TimeRange | null } {
  return {
    batch: nonEmpty(range.from, Math.min(range.to, watermark)),
    speed: nonEmpty(Math.max(range.from, watermark), range.to),
  };
}

/**
 * The buckets a commit moved from the speed layer to the batch view, [previous, watermark): what
 * reconciliation compares. Null when the watermark did not move forward.
 */
export function newlyBatchRange(previous: number, watermark: number): TimeRange | null {
  return nonEmpty(previous, watermark);
}

/** The day of the last bucket before W (the last day the batch view covers, in part or whole); null for W 0. */
export function lastBatchDay(watermark: number): string | null {
  return watermark === 0 ? null : dayOf(watermark - 1);
}

/** Where a step of a served series comes from; `mixed`: a step that straddles the watermark. */
export type BucketSource = 'batch' | 'speed' | 'mixed';

export function sourceOfStep(start: number, step: BucketWidth, watermark: number): BucketSource {
  if (start + BUCKET_WIDTH_MS[step] <= watermark) return 'batch';
  if (start >= watermark) return 'speed';
  return 'mixed';
}

/**
 * The end of the steps of [from, to) that lie wholly before W: their answer is batch rows only, fixed
 * until the next commit. `from` when there are none.
 */
export function settledStepsEnd(range: TimeRange, step: BucketWidth, watermark: number): number {
  return Math.min(range.to, Math.max(range.from, bucketStart(watermark, step)));
}

/** Whether [from, to) is exact: wholly before W. Exports answer only such ranges. */
export function isExactRange(range: TimeRange, watermark: number): boolean {
  return range.to <= watermark;
}

const nonEmpty = (from: number, to: number): TimeRange | null => (from < to ? { from, to } : null);
