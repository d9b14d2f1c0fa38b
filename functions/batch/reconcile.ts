import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { BATCH_METRICS } from '../commons/metrics';
import { rowKey, type ViewRow } from '../core';
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
  /** Per measure: totals of each layer over the range (decimal strings: exact past 2^53). */
  readonly measures: Readonly<Record<string, { batch: string; speed: string; difference: string }>>;
  /** Largest |speed - batch| / max(1, |batch|) over the measures. */
  readonly driftRatio: number;
  /** A few differing rows, for a person to look at. */
  readonly examples: readonly { bucket: number; group: unknown; batch: unknown; speed: unknown }[];
}

const abs = (value: bigint) => (value < 0n ? -value : value);

export function compareLayers(
  runId: string,
  view: string,
  from: number,
  to: number,
  measureNames: readonly string[],
  batch: readonly ViewRow[],
  speed: readonly ViewRow[],
): DriftReport {
  const keyed = (rows: readonly ViewRow[]) =>
    new Map(rows.map((row) => [rowKey(row.bucket, row.group), row]));
  const batchRows = keyed(batch);
  const speedRows = keyed(speed);
  const keys = new Set([...batchRows.keys(), ...speedRows.keys()]);
  const totals = Object.fromEntries(measureNames.map((name) => [name, { batch: 0n, speed: 0n }]));
  let rowsDiffering = 0;
  const examples: DriftReport['examples'][number][] = [];
  for (const key of keys) {
    const b = batchRows.get(key);
    const s = speedRows.get(key);
    let differs = b === undefined || s === undefined;
    for (const name of measureNames) {
      const bv = b?.values[name] ?? null;
      const sv = s?.values[name] ?? null;
      const total = totals[name] as { batch: bigint; speed: bigint };
      total.batch += bv ?? 0n;
      total.speed += sv ?? 0n;
      if (bv !== sv) differs = true;
    }
    if (!differs) continue;
    rowsDiffering++;
    if (examples.length < 10) {
      const row = (b ?? s) as ViewRow;
      const text = (values?: ViewRow['values']) =>
        values &&
        Object.fromEntries(Object.entries(values).map(([name, value]) => [name, value?.toString() ?? null]));
      examples.push({ bucket: row.bucket, group: row.group, batch: text(b?.values), speed: text(s?.values) });
    }
  }
  let driftRatio = 0;
  const measures: Record<string, { batch: string; speed: string; difference: string }> = {};
  for (const [name, total] of Object.entries(totals)) {
    const difference = total.speed - total.batch;
    measures[name] = {
      batch: total.batch.toString(),
      speed: total.speed.toString(),
      difference: difference.toString(),
    };
    const base = abs(total.batch) > 1n ? abs(total.batch) : 1n;
    driftRatio = Math.max(driftRatio, Number((abs(difference) * 1_000_000n) / base) / 1_000_000);
  }
  return { runId, view, from, to, rowsCompared: keys.size, rowsDiffering, measures, driftRatio, examples };
}

/**
 * Compares speed and batch on the buckets that just moved below the watermark, stores the report
 * (the API serves it) and publishes the drift as a metric, which an alarm watches.
 */
export async function reconcile(deps: BatchDeps, input: CommitOutput): Promise<{ reports: DriftReport[] }> {
  const reports: DriftReport[] = [];
  for (const committed of input.committed) {
    if (committed.previousWatermark === null || committed.watermark <= committed.previousWatermark) continue;
    const view = viewNamed(deps, committed.view);
    const manifest = await deps.store.getManifest(view.name);
    if (manifest === null) continue;
    const [from, to] = [committed.previousWatermark, committed.watermark];
    const batch = await deps.store.readRows(view, manifest, from, to);
    const speed = await deps.speed.readRows(view, from, to, deps.now());
    const report = compareLayers(input.runId, view.name, from, to, Object.keys(view.measures), batch, speed);
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
