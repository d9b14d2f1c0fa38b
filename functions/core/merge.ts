import { WatermarkError } from './errors';
import { isBucketBoundary } from './keys';
import { type ViewRow, ViewRows } from './rows';
import type { ViewDefinition } from './view';
import { isBatchBucket } from './watermark';

export type RowSource = 'batch' | 'speed';

export interface ServedRow extends ViewRow {
  readonly source: RowSource;
}

/**
 * The serving merge: the batch view for buckets before the watermark, the speed view from it on.
 * Each side is first merged per (bucket, group) with the measures' monoids, so partial rows
 * (one per Lambda batch, or per day version) add up; no bucket comes from both sides.
 */
export function serveByWatermark(
  view: ViewDefinition,
  watermark: number,
  layers: { readonly batch: Iterable<ViewRow>; readonly speed: Iterable<ViewRow> },
): ServedRow[] {
  if (!isBucketBoundary(watermark, view.time.bucket)) {
    throw new WatermarkError(
      `watermark ${watermark} is not a ${view.time.bucket} boundary of view ${view.name}`,
    );
  }
  const batch = new ViewRows(view);
  for (const row of layers.batch) if (isBatchBucket(row.bucket, watermark)) batch.add(row);
  const speed = new ViewRows(view);
  for (const row of layers.speed) if (!isBatchBucket(row.bucket, watermark)) speed.add(row);
  return [
    ...batch.sorted().map((row): ServedRow => ({ ...row, source: 'batch' })),
    ...speed.sorted().map((row): ServedRow => ({ ...row, source: 'speed' })),
  ];
}
