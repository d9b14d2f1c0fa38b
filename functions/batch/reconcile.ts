import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { BATCH_METRICS } from '../commons/metrics';
import {
  distinctMeasureNames,
  type GroupValue,
  type MeasureValue,
  monoidOf,
  newlyBatchRange,
  rowKey,
  SKETCH_ERROR_ABSOLUTE_SLACK,
  sketchRelativeErrorBound,
  type TimeRange,
  type ViewDefinition,
  type ViewRow,
  withinSketchBound,
} from '../core';
import type { CommitOutput } from './commit';
import { type BatchDeps, viewNamed } from './deps';

/** How far the speed layer was from the exact answer on the buckets that just became exact. */
export interface DriftReport {
  readonly runId: string;
  readonly view: string;
  readonly from: number;
  readonly to: number;
  readonly rowsCompared: number;
  /**
   * Rows where some measure differs, or that only one layer has. A distinct measure's estimate differing
   * from the exact count is the sketch's error, expected: it is in `sketchError`, not here.
   */
  readonly rowsDiffering: number;
  /**
   * Per measure but the distinct ones: each layer's value over the whole range, its rows combined with the measure's monoid
   * (a count's or sum's total, a min's least, a max's greatest), and speed less batch. Decimal strings
   * (exact past 2^53); null where a layer has no value (a sum, min or max over no non-null input).
   */
  readonly measures: Readonly<Record<string, MeasureDrift>>;
  /**
   * Largest relative difference over the measures but the distinct ones: |speed - batch| / max(1, |batch|) of their range
   * values; 1 where only one layer has a value.
   */
  readonly driftRatio: number;
  /** A few differing rows, for a person to look at. */
  readonly examples: readonly { bucket: number; group: unknown; batch: unknown; speed: unknown }[];
  /**
   * Per distinct measure: the speed layer's HyperLogLog estimates against the exact counts. Absent for a
   * view without one (and in reports from before distinct measures).
   */
  readonly sketchError?: Readonly<Record<string, SketchErrorReport>>;
}

/** One settled (bucket, group): a distinct measure's exact count, the speed estimate, and how far apart. */
export interface SketchErrorRow {
  readonly bucket: number;
  readonly group: readonly GroupValue[];
  readonly exact: string;
  readonly estimate: string;
  /** |estimate - exact| / exact; 0 for 0 = 0, 1 for an estimate of a count of 0. */
  readonly relativeError: number;
  /** Past the stated bound (`withinSketchBound`). */
  readonly overBound: boolean;
}

/** How far a distinct measure's estimates were from the exact counts, over the rows both layers hold. */
export interface SketchErrorReport {
  /** HyperLogLog precision of the view's sketches. */
  readonly precision: number;
  /**
   * The stated bound's relative part (`sketchRelativeErrorBound(precision)`): an estimate is within the
   * larger of `errorBound * exact` and `errorSlack` of the exact count (`sketchErrorBound`).
   */
  readonly errorBound: number;
  /** The stated bound's absolute part, in values (`SKETCH_ERROR_ABSOLUTE_SLACK`). */
  readonly errorSlack: number;
  /** Settled (bucket, group)s with an exact count and an estimate. */
  readonly rowsCompared: number;
  /**
   * Those whose estimate is past the bound: about 1 in 1,000 or fewer by chance (`SKETCH_OVER_BOUND_SHARE`);
   * a steady share above that is a defect.
   */
  readonly rowsOverBound: number;
  /** The mean observed relative error; 0 for no rows. */
  readonly meanRelativeError: number;
  /** The row of the largest observed relative error; null for no rows. */
  readonly largest: SketchErrorRow | null;
  /**
   * Some of the rows, past the bound first, then by relative error, largest first: of the whole report's
   * rows (every distinct measure's) the first SKETCH_ERROR_ROWS_LISTED in that order.
   */
  readonly rows: readonly SketchErrorRow[];
}

/**
 * Rows listed in a report, over all its distinct measures: a report is one DynamoDB item (400 KB at
 * most), and a row may carry 4 group values.
 */
export const SKETCH_ERROR_ROWS_LISTED = 100;

/** The largest relative error first, then the earliest bucket. */
const largestFirst = (a: SketchErrorRow, b: SketchErrorRow): number =>
  b.relativeError - a.relativeError || a.bucket - b.bucket;

/** Past the bound first (a small set's estimate may be far off in ratio and within the slack), then largest. */
const worstFirst = (a: SketchErrorRow, b: SketchErrorRow): number =>
  Number(b.overBound) - Number(a.overBound) || largestFirst(a, b);

export interface MeasureDrift {
  readonly batch: string | null;
  readonly speed: string | null;
  readonly difference: string | null;
}

const abs = (value: bigint) => (value < 0n ? -value : value);

/** |speed - batch| relative to |batch| (at least 1), in millionths; 1 where only one side has a value. */
function relativeDifference(batch: MeasureValue, speed: MeasureValue): number {
  if (batch === null || speed === null) return batch === speed ? 0 : 1;
  const base = abs(batch) > 1n ? abs(batch) : 1n;
  return Number((abs(speed - batch) * 1_000_000n) / base) / 1_000_000;
}

const text = (value: MeasureValue): string | null => value?.toString() ?? null;

/** |estimate - exact| / exact, or 1 for an estimate of a count of 0 (and 0 when both are 0). */
function sketchRelativeError(exact: bigint, estimate: bigint): number {
  if (exact === 0n) return estimate === 0n ? 0 : 1;
  return Number(abs(estimate - exact)) / Number(exact);
}

/**
 * A distinct measure's estimates (speed) against its exact counts (batch) on the rows both layers hold, all
 * its rows, unsorted (`listWorstRows` orders them): a row only one layer has is counted as drift by the
 * other measures (or `rowsDiffering`).
 */
function sketchErrorOf(
  name: string,
  precision: number,
  pairs: readonly { bucket: number; group: readonly GroupValue[]; batch: ViewRow; speed: ViewRow }[],
): SketchErrorReport {
  const rows: SketchErrorRow[] = [];
  let largest: SketchErrorRow | null = null;
  for (const { bucket, group, batch, speed } of pairs) {
    // A distinct count is never null (COUNT(DISTINCT) over nothing is 0).
    const exact = batch.values[name] ?? 0n;
    const estimate = speed.values[name] ?? 0n;
    const row = {
      bucket,
      group,
      exact: exact.toString(),
      estimate: estimate.toString(),
      relativeError: sketchRelativeError(exact, estimate),
      overBound: !withinSketchBound(estimate, exact, precision),
    };
    rows.push(row);
    if (largest === null || largestFirst(row, largest) < 0) largest = row;
  }
  const total = rows.reduce((sum, row) => sum + row.relativeError, 0);
  return {
    precision,
    errorBound: sketchRelativeErrorBound(precision),
    errorSlack: SKETCH_ERROR_ABSOLUTE_SLACK,
    rowsCompared: rows.length,
    rowsOverBound: rows.filter((row) => row.overBound).length,
    meanRelativeError: rows.length === 0 ? 0 : total / rows.length,
    largest,
    rows,
  };
}

/**
 * The reports of a view's distinct measures with the first SKETCH_ERROR_ROWS_LISTED of all their rows,
 * worst first, listed: one sort over every measure's rows, each measure keeping its own, in that order.
 */
function listWorstRows(
  reports: readonly (readonly [string, SketchErrorReport])[],
): Record<string, SketchErrorReport> {
  const listed = new Map<string, SketchErrorRow[]>(reports.map(([name]) => [name, []]));
  const worst = reports
    .flatMap(([name, report]) => report.rows.map((row) => ({ name, row })))
    .sort((a, b) => worstFirst(a.row, b.row))
    .slice(0, SKETCH_ERROR_ROWS_LISTED);
  for (const { name, row } of worst) listed.get(name)?.push(row);
  return Object.fromEntries(
    reports.map(([name, report]) => [name, { ...report, rows: listed.get(name) ?? [] }]),
  );
}

export function compareLayers(
  runId: string,
  view: Pick<ViewDefinition, 'name' | 'measures' | 'distinctPrecision'>,
  range: TimeRange,
  batch: readonly ViewRow[],
  speed: readonly ViewRow[],
): DriftReport {
  const keyed = (rows: readonly ViewRow[]) =>
    new Map(rows.map((row) => [rowKey(row.bucket, row.group), row]));
  const batchRows = keyed(batch);
  const speedRows = keyed(speed);
  const keys = new Set([...batchRows.keys(), ...speedRows.keys()]);
  // A distinct measure's estimate is expected to differ (the sketch's error), and distinct counts of
  // rows do not add to a range total: compared per row, apart.
  const distinct = distinctMeasureNames(view);
  const measures = Object.entries(view.measures).flatMap(([name, measure]) => {
    if (measure.kind === 'countDistinct') return [];
    const monoid = monoidOf(measure);
    return [{ name, monoid, batch: monoid.zero, speed: monoid.zero }];
  });
  const pairs: { bucket: number; group: readonly GroupValue[]; batch: ViewRow; speed: ViewRow }[] = [];
  let rowsDiffering = 0;
  const examples: DriftReport['examples'][number][] = [];
  for (const key of keys) {
    const b = batchRows.get(key);
    const s = speedRows.get(key);
    let differs = b === undefined || s === undefined;
    if (b !== undefined && s !== undefined)
      pairs.push({ bucket: b.bucket, group: b.group, batch: b, speed: s });
    for (const total of measures) {
      const bv = b?.values[total.name] ?? null;
      const sv = s?.values[total.name] ?? null;
      total.batch = total.monoid.plus(total.batch, bv);
      total.speed = total.monoid.plus(total.speed, sv);
      if (bv !== sv) differs = true;
    }
    if (!differs) continue;
    rowsDiffering++;
    if (examples.length < 10) {
      const row = (b ?? s) as ViewRow;
      const values = (layer?: ViewRow) =>
        layer && Object.fromEntries(Object.entries(layer.values).map(([name, value]) => [name, text(value)]));
      examples.push({ bucket: row.bucket, group: row.group, batch: values(b), speed: values(s) });
    }
  }
  return {
    runId,
    view: view.name,
    from: range.from,
    to: range.to,
    rowsCompared: keys.size,
    rowsDiffering,
    measures: Object.fromEntries(
      measures.map(({ name, batch, speed }) => [
        name,
        {
          batch: text(batch),
          speed: text(speed),
          difference: batch === null || speed === null ? null : (speed - batch).toString(),
        },
      ]),
    ),
    driftRatio: Math.max(0, ...measures.map(({ batch, speed }) => relativeDifference(batch, speed))),
    examples,
    ...(distinct.length === 0
      ? {}
      : {
          sketchError: listWorstRows(
            distinct.map((name) => [name, sketchErrorOf(name, view.distinctPrecision, pairs)] as const),
          ),
        }),
  };
}

/**
 * Compares speed and batch on the buckets that just moved below the watermark, stores the report
 * (the API serves it) and publishes the drift as a metric, which an alarm watches.
 */
export async function reconcile(deps: BatchDeps, input: CommitOutput): Promise<{ reports: DriftReport[] }> {
  const reports: DriftReport[] = [];
  for (const committed of input.committed) {
    const range =
      committed.previousWatermark === null
        ? null
        : newlyBatchRange(committed.previousWatermark, committed.watermark);
    if (range === null) continue;
    const view = viewNamed(deps, committed.view);
    const manifest = await deps.store.getManifest(view.name);
    if (manifest === null) continue;
    const batch = await deps.store.readRows(view, manifest, range.from, range.to);
    const speed = await deps.speed.readRows(view, range.from, range.to, deps.now());
    const report = compareLayers(input.runId, view, range, batch, speed);
    await deps.store.putDriftReport(view.name, input.runId, report);
    const metric = deps.metrics.singleMetric();
    metric.addDimension(BATCH_METRICS.driftRatio.dimensions[0] as string, view.name);
    metric.addMetric(BATCH_METRICS.driftRatio.name, MetricUnit.NoUnit, report.driftRatio);
    // Apart from driftRatio (an estimate within its bound is no drift), on the same line: one past it is worth a look.
    if (report.sketchError !== undefined)
      metric.addMetric(
        BATCH_METRICS.sketchRowsOverBound.name,
        MetricUnit.Count,
        Object.values(report.sketchError).reduce((sum, measure) => sum + measure.rowsOverBound, 0),
      );
    reports.push(report);
  }
  deps.logger.info('batch run reconciled', {
    runId: input.runId,
    drift: reports.map(({ view, rowsDiffering, driftRatio, sketchError }) => ({
      view,
      rowsDiffering,
      driftRatio,
      ...(sketchError === undefined
        ? {}
        : {
            sketchRowsOverBound: Object.fromEntries(
              Object.entries(sketchError).map(([name, measure]) => [name, measure.rowsOverBound]),
            ),
          }),
    })),
  });
  return { reports };
}
