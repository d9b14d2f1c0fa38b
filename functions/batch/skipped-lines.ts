import { SKIPPED_OBJECTS_LISTED, type SkippedLines } from '../adapters/dynamo-batch-store';
import { OBJECT_PATH_COLUMN, type QueryEngine } from '../adapters/query-engine';
import { archiveKeyInPath } from '../commons/layout';
import { dayRangePredicate, eventsTableOf, quoteIdentifier } from '../core';
import { type CatalogRead, unionOverCatalogs } from './catalog-reads';

/**
 * Counts, per object, the archive lines of these days that the engine read as a row without an id:
 * lines it could not parse. Athena's JSON SerDe (with `ignore.malformed.json`) and DuckDB (with
 * `ignore_errors`) both read such a line as a row of NULLs rather than fail the query, so the same text
 * counts them on both. The archive holds only events the transform accepted, all with an id. One query
 * over every catalog read (each its own table and days): an object lies in one catalog's folder.
 */
export function skippedLinesSql(reads: readonly CatalogRead[]): string {
  const perCatalog = unionOverCatalogs(
    reads,
    'skipped lines',
    ({
      catalog,
      dayRanges,
    }) => `  SELECT ${quoteIdentifier(OBJECT_PATH_COLUMN)} AS "object", COUNT(*) AS "lines"
  FROM ${eventsTableOf(catalog)}
  WHERE ${dayRangePredicate(dayRanges)}
    AND ${quoteIdentifier(catalog.idField)} IS NULL
  GROUP BY 1`,
  );
  return `SELECT "object", "lines", SUM("lines") OVER () AS "total_lines", COUNT(*) OVER () AS "objects"
FROM (
${perCatalog}
) AS "skipped"
ORDER BY "lines" DESC, "object" ASC
LIMIT ${SKIPPED_OBJECTS_LISTED}`;
}

/** The skipped lines a finished `skippedLinesSql` query counted. */
export async function readSkippedLines(engine: QueryEngine, queryId: string): Promise<SkippedLines> {
  let lines = 0;
  let objects = 0;
  const byObject: { object: string; lines: number }[] = [];
  for await (const row of engine.results(queryId)) {
    // Athena gives text, DuckDB numbers or bigints.
    lines = Number(row.total_lines);
    objects = Number(row.objects);
    byObject.push({ object: archiveKeyInPath(String(row.object)), lines: Number(row.lines) });
  }
  return { lines, objects, byObject, error: null };
}
