import {
  compileJs,
  DistinctSketch,
  type EventRecord,
  type MeasureValue,
  type ViewDefinition,
  type ViewRow,
  ViewRows,
} from '../../functions/core';

/**
 * The rows the speed store must read back after counting these events exactly once: the reducer's counters,
 * and each distinct measure as the estimate of the sketch of its values, rounded (a sketch merged from any
 * split of the values, with repeats, is that same sketch). In `ViewRows.sorted` order.
 */
export function expectedSpeedRows(view: ViewDefinition, events: Iterable<EventRecord>): ViewRow[] {
  const compiled = compileJs(view);
  // One row per key: ViewRows only orders them, it never adds two distinct counts here.
  const rows = new ViewRows(view);
  for (const { bucket, group, totals } of compiled.totalsByKey(events)) {
    const values: Record<string, MeasureValue> = compiled.valuesOf(totals);
    for (const [name, set] of Object.entries(compiled.distinctValuesOf(totals)))
      values[name] = DistinctSketch.of(view.distinctPrecision, set).roundedEstimate();
    rows.add({ bucket, group, values });
  }
  return rows.sorted();
}
