import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { BATCH_METRICS } from '../commons/metrics';
import {
  type MeasureValue,
  monoidOf,
  newlyBatchRange,
  rowKey,
  type TimeRange,
  type ViewDefinition,
  type ViewRow,
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
  /** Rows where some measure differs, or that only one layer has. */
  readonly rowsDiffering: number;
  /**
   * Per measure: each layer's value over the whole range, its rows combined with the measure's monoid
   * (a count's or sum's total, a min's least, a max's greatest), and speed less batch. Decimal strings
   * (exact past 2^53); null where a layer has no value (a sum, min or max over no non-null input).
   */
  readonly measures: Readonly<Record<string, MeasureDrift>>;
  /**
   * Largest relative difference over the measures: |speed - batch| / max(1, |batch|) of their range
   * values; 1 where only one layer has a value.
   */
  readonly driftRatio: number;
  /** A few differing rows, for a person to look at. */
  readonly examples: readonly { bucket: number; group: unknown; batch: unknown; speed: unknown }[];
}

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

export function compareLayers(
  runId: string,
  view: Pick<ViewDefinition, 'name' | 'measures'>,
  range: TimeRange,
  batch: readonly ViewRow[],
  speed: readonly ViewRow[],
): DriftReport {
  const keyed = (rows: readonly ViewRow[]) =>
    new Map(rows.map((row) => [rowKey(row.bucket, row.group), row]));
  const batchRows = keyed(batch);
  const speedRows = keyed(speed);
  const keys = new Set([...batchRows.keys(), ...speedRows.keys()]);
  const measures = Object.entries(view.measures).map(([name, measure]) => {
    const monoid = monoidOf(measure);
    return { name, monoid, batch: monoid.zero, speed: monoid.zero };
  });
  let rowsDiffering = 0;
  const examples: DriftReport['examples'][number][] = [];
  for (const key of keys) {
    const b = batchRows.get(key);
    const s = speedRows.get(key);
    let differs = b === undefined || s === undefined;
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
    reports.push(report);
  }
  deps.logger.info('batch run reconciled', {
    runId: input.runId,
    drift: reports.map(({ view, rowsDiffering, driftRatio }) => ({ view, rowsDiffering, driftRatio })),
  });
  return { reports };
}
