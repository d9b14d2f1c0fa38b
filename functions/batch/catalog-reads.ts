import type { DayRange, EventCatalog } from '../core';

/** One catalog a run reads, with the days it reads of it as ranges: a unit of the data-quality queries. */
export interface CatalogRead {
  readonly catalog: EventCatalog;
  readonly dayRanges: readonly DayRange[];
}

/**
 * One query's per-catalog SELECTs (each over its own table) as one UNION ALL, indented for the query
 * that wraps it. A run reads at least one catalog, so none is a caller's bug: `what` names the query.
 */
export function unionOverCatalogs(
  reads: readonly CatalogRead[],
  what: string,
  select: (read: CatalogRead, index: number) => string,
): string {
  if (reads.length === 0) throw new RangeError(`${what}: no catalog to read`);
  return reads.map(select).join('\n  UNION ALL\n');
}
