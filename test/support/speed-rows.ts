import {
  compileJs,
  DistinctSketch,
  type EventRecord,
  type MeasureValue,
  rowKey,
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
  const items = new Map<
    string,
    { bucket: number; group: ViewRow['group']; totals: ReturnType<typeof compiled.zeros> }
  >();
  for (const event of events) {
    if (!compiled.matches(event)) continue;
    const bucket = compiled.bucketOf(event);
    const group = compiled.groupOf(event);
    const key = rowKey(bucket, group);
    const item = items.get(key) ?? { bucket, group, totals: compiled.zeros() };
    items.set(key, item);
    compiled.accumulate(event, item.totals);
  }
  // One row per key: ViewRows only orders them, it never adds two distinct counts here.
  const rows = new ViewRows(view);
  for (const { bucket, group, totals } of items.values()) {
    const values: Record<string, MeasureValue> = compiled.valuesOf(totals);
    for (const [name, set] of Object.entries(compiled.distinctValuesOf(totals)))
      values[name] = BigInt(Math.round(DistinctSketch.of(view.distinctPrecision, set).estimate()));
    rows.add({ bucket, group, values });
  }
  return rows.sorted();
}
