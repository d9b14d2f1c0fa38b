import { BUCKET_WIDTH_MS, type BucketWidth, bucketStart, dayOf, type GroupValue } from './keys';
import type { ServedRow } from './merge';
import type { MeasureValue } from './monoid';
import { type ViewRow, ViewRows } from './rows';
import type { ViewDefinition } from './view';
import { type BucketSource, sourceOfStep } from './watermark';

/**
 * A measure value in JSON: a number while it is a safe integer, else its exact decimal text, so no
 * client ever sees a rounded integer. Null stays null (a sum over no non-null input).
 */
export type EncodedMeasure = number | string | null;

export function encodeMeasure(value: MeasureValue): EncodedMeasure {
  if (value === null) return null;
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value.toString();
}

export interface SeriesGroup {
  readonly key: Readonly<Record<string, GroupValue>>;
  readonly values: Readonly<Record<string, EncodedMeasure>>;
}

export interface SeriesBucket {
  readonly start: number;
  readonly source: BucketSource;
  /** For a batch bucket, the batch version its rows come from (a step is at most a day: one version). */
  readonly batchVersion?: string;
  readonly groups: readonly SeriesGroup[];
}

/** Group field = value filters; a row passes if every named field has the value. */
export type GroupFilter = Readonly<Record<string, string>>;

/** Whether `step` is the view's bucket or a coarser width that its buckets tile exactly. */
export function isStepOf(view: ViewDefinition, step: BucketWidth): boolean {
  return BUCKET_WIDTH_MS[step] % BUCKET_WIDTH_MS[view.time.bucket] === 0;
}

/**
 * The rows that pass the filter, each moved to the bucket `bucketOf` names and merged there with the
 * measures' monoids; in bucket, then group-key order.
 */
function mergedRows(
  view: ViewDefinition,
  rows: readonly ServedRow[],
  filter: GroupFilter,
  bucketOf: (bucket: number) => number,
): ViewRow[] {
  const tests = Object.entries(filter).map(([field, value]) => [view.groupBy.indexOf(field), value] as const);
  const merged = new ViewRows(view);
  for (const row of rows)
    if (tests.every(([index, value]) => row.group[index] === value))
      merged.add({ bucket: bucketOf(row.bucket), group: row.group, values: row.values });
  return merged.sorted();
}

/** A row as a served group: its group fields by name, its measures encoded for JSON. */
function seriesGroup(view: ViewDefinition, row: ViewRow): SeriesGroup {
  return {
    key: Object.fromEntries(view.groupBy.map((field, index) => [field, row.group[index] ?? null])),
    values: Object.fromEntries(
      Object.keys(view.measures).map((name) => [name, encodeMeasure(row.values[name] ?? null)]),
    ),
  };
}

/**
 * Rolls merged rows up to `step` with the measures' monoids: one bucket per step start that has data,
 * groups in key order. A step's source follows from where it lies against the watermark.
 */
export function rollUpSeries(
  view: ViewDefinition,
  rows: readonly ServedRow[],
  options: {
    readonly step: BucketWidth;
    readonly watermark: number;
    readonly filter?: GroupFilter;
    /** The batch version of each day (a manifest's days): batch buckets cite theirs. */
    readonly batchVersions?: Readonly<Record<string, string>>;
  },
): SeriesBucket[] {
  const buckets: SeriesBucket[] = [];
  for (const row of mergedRows(view, rows, options.filter ?? {}, (bucket) =>
    bucketStart(bucket, options.step),
  )) {
    const last = buckets.at(-1);
    if (last?.start === row.bucket) (last.groups as SeriesGroup[]).push(seriesGroup(view, row));
    else {
      const source = sourceOfStep(row.bucket, options.step, options.watermark);
      const batchVersion = source === 'batch' ? options.batchVersions?.[dayOf(row.bucket)] : undefined;
      buckets.push({
        start: row.bucket,
        source,
        ...(batchVersion === undefined ? {} : { batchVersion }),
        groups: [seriesGroup(view, row)],
      });
    }
  }
  return buckets;
}

/**
 * Groups ranked by one measure over all the rows (merged with the monoids): largest first, nulls
 * last, ties in group-key order so the answer is stable.
 */
export function topGroups(
  view: ViewDefinition,
  rows: readonly ServedRow[],
  options: { readonly measure: string; readonly limit: number; readonly filter?: GroupFilter },
): SeriesGroup[] {
  // In group-key order, and Array.sort is stable: ties keep that order.
  const ranked = mergedRows(view, rows, options.filter ?? {}, () => 0).sort((a, b) => {
    const x = a.values[options.measure] ?? null;
    const y = b.values[options.measure] ?? null;
    if (x === y) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    return x > y ? -1 : 1;
  });
  return ranked.slice(0, options.limit).map((row) => seriesGroup(view, row));
}
