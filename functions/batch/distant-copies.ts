import {
  DISTANT_COPIES_LISTED,
  DISTANT_COPY_DAYS_LISTED,
  type ListedDistantCopies,
} from '../adapters/dynamo-batch-store';
import type { QueryEngine } from '../adapters/query-engine';
import { compileDistantCopiesSql, type DayRange, type EventCatalog, parseDistantCopiesRow } from '../core';

/**
 * The data-quality report's query over the days a run recomputes: the ids counted more than once
 * (`compileDistantCopiesSql`), the first DISTANT_COPIES_LISTED by id, each with how many there are in
 * all. Day ranges, not days, as the views' SQL: the text stays small however scattered the days.
 */
export function distantCopiesSql(catalog: EventCatalog, dayRanges: readonly DayRange[]): string {
  return `SELECT "id", "days", COUNT(*) OVER () AS "total_ids"
FROM (
${compileDistantCopiesSql(catalog, { dayRanges })}
) AS "distant_copies"
ORDER BY "id" ASC
LIMIT ${DISTANT_COPIES_LISTED}`;
}

/** The ids a finished `distantCopiesSql` query listed, and how many there are in all. */
export async function readDistantCopies(
  engine: QueryEngine,
  queryId: string,
): Promise<{ ids: number; listed: ListedDistantCopies[] }> {
  let ids = 0;
  const listed: ListedDistantCopies[] = [];
  for await (const row of engine.results(queryId)) {
    // Athena gives text, DuckDB numbers or bigints.
    ids = Number(row.total_ids);
    const { id, days } = parseDistantCopiesRow(row);
    listed.push({ id, days: days.slice(0, DISTANT_COPY_DAYS_LISTED), dayCount: days.length });
  }
  return { ids, listed };
}
