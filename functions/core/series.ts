import { BUCKET_WIDTH_MS, type BucketWidth, type GroupValue } from './keys';
import type { ServedRow } from './merge';
import type { MeasureValue } from './monoid';
import { ViewRows } from './rows';
import type { ViewDefinition } from './view';

/** Where a served (rolled-up) bucket comes from; `mixed`: a step that straddles the watermark. */
export type BucketSource = 'batch' | 'speed' | 'mixed';

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
  readonly groups: readonly SeriesGroup[];
}

/** Group field = value filters; a row passes if every named field has the value. */
export type GroupFilter = Readonly<Record<string, string>>;

/** Whether `step` is the view's bucket or a coarser width that its buckets tile exactly. */
export function isStepOf(view: ViewDefinition, step: BucketWidth): boolean {
  return BUCKET_WIDTH_MS[step] % BUCKET_WIDTH_MS[view.time.bucket] === 0;
}

export function sourceOfStep(start: number, width: number, watermark: number): BucketSource {
  if (start + width <= watermark) return 'batch';
  if (start >= watermark) return 'speed';
  return 'mixed';
}

function filterGroups(view: ViewDefinition, rows: readonly ServedRow[], filter: GroupFilter): ServedRow[] {
  const tests = Object.entries(filter).map(([field, value]) => [view.groupBy.indexOf(field), value] as const);
  return rows.filter((row) => tests.every(([index, value]) => row.group[index] === value));
}

function groupOf(view: ViewDefinition, group: readonly GroupValue[]): SeriesGroup['key'] {
  return Object.fromEntries(view.groupBy.map((field, index) => [field, group[index] ?? null]));
}

function encodeValues(
  view: ViewDefinition,
  values: Readonly<Record<string, MeasureValue>>,
): Record<string, EncodedMeasure> {
  return Object.fromEntries(
    Object.keys(view.measures).map((name) => [name, encodeMeasure(values[name] ?? null)]),
  );
}

/**
 * Rolls merged rows up to `step` with the measures' monoids: one bucket per step start that has data,
 * groups in key order. A step's source follows from where it lies against the watermark.
 */
export function rollUpSeries(
  view: ViewDefinition,
  rows: readonly ServedRow[],
  options: { readonly step: BucketWidth; readonly watermark: number; readonly filter?: GroupFilter },
): SeriesBucket[] {
  const width = BUCKET_WIDTH_MS[options.step];
  const rolled = new ViewRows(view);
  for (const row of filterGroups(view, rows, options.filter ?? {}))
    rolled.add({ bucket: row.bucket - (row.bucket % width), group: row.group, values: row.values });
  const buckets: SeriesBucket[] = [];
  for (const row of rolled.sorted()) {
    const group = { key: groupOf(view, row.group), values: encodeValues(view, row.values) };
    const last = buckets.at(-1);
    if (last?.start === row.bucket) (last.groups as SeriesGroup[]).push(group);
    else
      buckets.push({
        start: row.bucket,
        source: sourceOfStep(row.bucket, width, options.watermark),
        groups: [group],
      });
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
  const totals = new ViewRows(view);
  for (const row of filterGroups(view, rows, options.filter ?? {}))
    totals.add({ bucket: 0, group: row.group, values: row.values });
  // sorted() is in group-key order and Array.sort is stable: ties keep that order.
  const ranked = totals.sorted().sort((a, b) => {
    const x = a.values[options.measure] ?? null;
    const y = b.values[options.measure] ?? null;
    if (x === y) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    return x > y ? -1 : 1;
  });
  return ranked
    .slice(0, options.limit)
    .map((row) => ({ key: groupOf(view, row.group), values: encodeValues(view, row.values) }));
}
