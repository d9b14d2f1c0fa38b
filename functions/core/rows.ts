import { type GroupValue, rowKey } from './keys';
import { type MeasureValue, monoidOf } from './monoid';
import type { ViewDefinition } from './view';

/** One (bucket, group) of a view with its measure values: the unit every layer stores and serves. */
export interface ViewRow {
  /** Bucket start, epoch milliseconds. */
  readonly bucket: number;
  /** Group field values in the order of the view's `groupBy`. */
  readonly group: readonly GroupValue[];
  /** Measure values by measure name. */
  readonly values: Readonly<Record<string, MeasureValue>>;
}

/**
 * Rows keyed by `rowKey(bucket, group)`; adding a row merges it with the measures' monoids. Distinct counts
 * do not add: a second row of a key with a non-zero distinct count throws `DistinctCountsDoNotAddError`.
 */
export class ViewRows {
  private readonly rows = new Map<string, ViewRow>();

  constructor(readonly view: ViewDefinition) {}

  add(row: ViewRow): void {
    const key = rowKey(row.bucket, row.group);
    const existing = this.rows.get(key);
    if (existing === undefined) {
      this.rows.set(key, row);
      return;
    }
    const values: Record<string, MeasureValue> = {};
    for (const [name, measure] of Object.entries(this.view.measures)) {
      const monoid = monoidOf(measure);
      values[name] = monoid.plus(existing.values[name] ?? monoid.zero, row.values[name] ?? monoid.zero);
    }
    this.rows.set(key, { bucket: row.bucket, group: row.group, values });
  }

  addAll(rows: Iterable<ViewRow>): this {
    for (const row of rows) this.add(row);
    return this;
  }

  get size(): number {
    return this.rows.size;
  }

  /** Rows ordered by bucket, then group key: a canonical order for comparison and output. */
  sorted(): ViewRow[] {
    return [...this.rows.entries()].sort(([a], [b]) => compareRowKeys(a, b)).map(([, row]) => row);
  }
}

function compareRowKeys(a: string, b: string): number {
  const bucketA = Number(a.slice(0, a.indexOf('|')));
  const bucketB = Number(b.slice(0, b.indexOf('|')));
  if (bucketA !== bucketB) return bucketA - bucketB;
  return a < b ? -1 : a > b ? 1 : 0;
}
