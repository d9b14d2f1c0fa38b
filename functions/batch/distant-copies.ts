import {
  DISTANT_COPIES_LISTED,
  DISTANT_COPY_DAYS_LISTED,
  type ListedDistantCopies,
} from '../adapters/dynamo-batch-store';
import type { QueryEngine } from '../adapters/query-engine';
import { compileDistantCopiesSql, parseDistantCopiesRow, quoteString } from '../core';
import { type CatalogRead, unionOverCatalogs } from './catalog-reads';

/** What a report query found for one catalog: how many ids in all, and the first listed. */
export interface FoundDistantCopies {
  readonly ids: number;
  readonly listed: ListedDistantCopies[];
}

/**
 * The data-quality report's query over the days a run recomputes, every catalog its views read at once
 * (one Athena query, as the skipped lines'): per catalog, over its own table and with its own dedupe
 * horizon, the ids counted more than once (`compileDistantCopiesSql`), the first DISTANT_COPIES_LISTED by
 * id, each with the catalog's name and how many it has in all. Day ranges, not days, as the views' SQL:
 * the text stays small however scattered the days.
 */
export function distantCopiesSql(reads: readonly CatalogRead[]): string {
  const perCatalog = unionOverCatalogs(
    reads,
    'distant copies',
    ({ catalog, dayRanges }, index) => `  SELECT ${quoteString(catalog.name)} AS "catalog", "id", "days"
  FROM (
${compileDistantCopiesSql(catalog, { dayRanges })}
  ) AS "catalog_${index}"`,
  );
  return `SELECT "catalog", "id", "days", "total_ids"
FROM (
  SELECT "catalog", "id", "days",
    COUNT(*) OVER (PARTITION BY "catalog") AS "total_ids",
    ROW_NUMBER() OVER (PARTITION BY "catalog" ORDER BY "id" ASC) AS "id_rank"
  FROM (
${perCatalog}
  ) AS "distant_copies"
) AS "ranked"
WHERE "id_rank" <= ${DISTANT_COPIES_LISTED}
ORDER BY "catalog" ASC, "id" ASC`;
}

/** The ids a finished `distantCopiesSql` query listed, per catalog (a catalog without any has no entry). */
export async function readDistantCopies(
  engine: QueryEngine,
  queryId: string,
): Promise<Map<string, FoundDistantCopies>> {
  const found = new Map<string, FoundDistantCopies>();
  for await (const row of engine.results(queryId)) {
    const catalog = String(row.catalog);
    const { id, days } = parseDistantCopiesRow(row);
    // Athena gives text, DuckDB numbers or bigints.
    const ofCatalog = found.get(catalog) ?? { ids: Number(row.total_ids), listed: [] };
    ofCatalog.listed.push({ id, days: days.slice(0, DISTANT_COPY_DAYS_LISTED), dayCount: days.length });
    found.set(catalog, ofCatalog);
  }
  return found;
}
