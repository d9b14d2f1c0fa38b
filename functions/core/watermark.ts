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
 * What bounds a run's watermark: when it started, the settle time, and the arrival time through which the
 * archive is known complete (every record put on the stream before it has been delivered to the archive).
 */
export interface WatermarkBounds {
  /** When the run started (its plan's time), epoch milliseconds. */
  readonly startedAt: number;
  /** How far W trails the run's "as of" instant. */
  readonly settleMs: number;
  /** The archive holds every record that arrived before this instant (epoch milliseconds). */
  readonly archiveCompleteThrough: number;
}

/**
 * The instant a run is exact as of: its start, or the arrival time the archive is complete through when
 * that is earlier. Every event accepted before it is in the archive when the run reads it.
 */
export function runAsOf(bounds: Pick<WatermarkBounds, 'startedAt' | 'archiveCompleteThrough'>): number {
  return Math.min(bounds.startedAt, bounds.archiveCompleteThrough);
}

/**
 * The watermark a batch run commits: the start of the view's bucket holding the run's "as of" instant
 * (`runAsOf`) less the settle time, unless the previous watermark is later (a backfill passes `previous`
 * 0). So W never passes what the archive holds: an event accepted before the run's "as of" instant is
 * archived, and one accepted after it with an event time below W is late by more than the settle time
 * (its event time < W <= asOf - settle <= arrival - settle), counted by the next run as any late event.
 */
export function nextWatermark(bounds: WatermarkBounds, bucket: BucketWidth, previous: number): number {
  return Math.max(bucketStart(runAsOf(bounds) - bounds.settleMs, bucket), previous);
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

/**
 * The least watermark at which a new view version may replace the version a manifest serves: the first
 * bucket boundary at or after `countingSince + marginMs`. `countingSince` is when the version began being
 * counted without a gap by the speed functions (the registry clears it when they stop); every event
 * arriving from then on is in its speed items, except those counted by invocations of older code still
 * running (a deploy's rollover: in-flight invocations finish within the speed function's timeout, and
 * instances started just before the update keep the old code) and those a skewed clock timed early: the
 * margin covers both (the stage's `definitionSwitchMarginSeconds`). Buckets from there on were counted by
 * the new version's speed items, so the switch serves no hole; buckets before it are the new batch rows.
 * Null while no speed function counts the version: the switch waits.
 *
 * The catalog bounds event times by its time range, not by their arrival: an event timed ahead of its
 * arrival, arriving before `countingSince`, in a bucket from W on, is in no speed item of the new version
 * until a batch run's watermark passes its bucket (eventual correction, as for late events).
 */
export function definitionSwitchFrom(
  countingSince: number | null,
  bucket: BucketWidth,
  marginMs: number,
): number | null {
  if (countingSince === null) return null;
  const since = countingSince + marginMs;
  const start = bucketStart(since, bucket);
  return start === since ? start : start + BUCKET_WIDTH_MS[bucket];
}

/**
 * Whether a commit at `watermark` may switch the manifest to a version counted by speed since
 * `countingSince`; also whether a manifest at `watermark` of a version may be served again (a rollback).
 */
export function maySwitchDefinition(
  watermark: number,
  countingSince: number | null,
  bucket: BucketWidth,
  marginMs: number,
): boolean {
  const from = definitionSwitchFrom(countingSince, bucket, marginMs);
  return from !== null && watermark >= from;
}
