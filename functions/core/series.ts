import { BUCKET_WIDTH_MS, type BucketWidth, bucketStart, dayOf, type GroupValue } from './keys';
import type { ServedRow } from './merge';
import type { MeasureValue } from './monoid';
import { type ViewRow, ViewRows } from './rows';
import { distinctMeasureNames, hasDistinctMeasure, type ViewDefinition } from './view';
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

/**
 * What a bucket's distinct measures hold: the exact count (a batch bucket) or the speed layer's
 * HyperLogLog estimate (a speed bucket). The two never mix in one bucket: it is served at the view's own
 * bucket, wholly from one side of the watermark.
 */
export type DistinctValues = 'exact' | 'sketch';

export interface SeriesBucket {
  readonly start: number;
  readonly source: BucketSource;
  /** For a view with a distinct measure only: whether this bucket's distinct values are exact or estimates. */
  readonly distinct?: DistinctValues;
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
 * Why `step` cannot be served for the view, or null when it can: distinct counts of two buckets do not
 * add (a customer in both would count twice), so a view with a distinct measure is served at its own
 * bucket only.
 */
export function distinctStepRefusal(view: ViewDefinition, step: BucketWidth): string | null {
  if (step === view.time.bucket || !hasDistinctMeasure(view)) return null;
  return (
    `view ${view.name} has a distinct measure (${distinctMeasureNames(view).join(', ')}) and is served per ` +
    `${view.time.bucket} only: distinct counts of different buckets do not add; define a view with a ` +
    `coarser bucket (${step}) to count distinct values per ${step}`
  );
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
  const refusal = distinctStepRefusal(view, options.step);
  if (refusal !== null) throw new RangeError(refusal);
  const distinct = hasDistinctMeasure(view);
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
        // At the view's own bucket a step is never mixed: below W it is the batch layer's.
        ...(distinct ? { distinct: source === 'batch' ? 'exact' : 'sketch' } : {}),
        ...(batchVersion === undefined ? {} : { batchVersion }),
        groups: [seriesGroup(view, row)],
      });
    }
  }
  return buckets;
}

/** A measure a ranking leaves out of its groups' values, and why. */
export interface OmittedMeasure {
  readonly measure: string;
  readonly reason: string;
}

/**
 * The distinct measures a ranking over `buckets` buckets leaves out: over more than one, a group's
 * distinct counts of its buckets do not add up to its distinct count over the range.
 */
export function omittedFromTop(view: ViewDefinition, buckets: number): OmittedMeasure[] {
  if (buckets <= 1) return [];
  return distinctMeasureNames(view).map((measure) => ({
    measure,
    reason:
      `a distinct count over ${buckets} ${view.time.bucket} buckets is not the sum of theirs: ` +
      `ask one bucket (from..to one ${view.time.bucket}) or define a view with a coarser bucket`,
  }));
}

/**
 * Groups ranked by one measure over all the rows (merged with the monoids): largest first, nulls
 * last, ties in group-key order so the answer is stable. The `omit`ted measures are neither merged
 * nor answered.
 */
export function topGroups(
  view: ViewDefinition,
  rows: readonly ServedRow[],
  options: {
    readonly measure: string;
    readonly limit: number;
    readonly filter?: GroupFilter;
    readonly omit?: readonly string[];
  },
): SeriesGroup[] {
  const omit = new Set(options.omit ?? []);
  if (omit.has(options.measure)) throw new RangeError(`cannot rank by ${options.measure}: it is omitted`);
  const ranking: ViewDefinition =
    omit.size === 0
      ? view
      : {
          ...view,
          measures: Object.fromEntries(Object.entries(view.measures).filter(([name]) => !omit.has(name))),
        };
  // In group-key order, and Array.sort is stable: ties keep that order.
  const ranked = mergedRows(ranking, rows, options.filter ?? {}, () => 0).sort((a, b) => {
    const x = a.values[options.measure] ?? null;
    const y = b.values[options.measure] ?? null;
    if (x === y) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    return x > y ? -1 : 1;
  });
  return ranked.slice(0, options.limit).map((row) => seriesGroup(ranking, row));
}
