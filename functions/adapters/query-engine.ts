import type { SqlCell } from '../core';

/**
 * The object a row of an `events_<catalog>` table was read from: Athena's pseudo-column, which the DuckDB engine
 * exposes under the same name, so the same SQL can name where a row came from on both.
 */
export const OBJECT_PATH_COLUMN = '$path';

/** A query that failed, with the engine's id for it (Athena's QueryExecutionId). */
export class QueryFailedError extends Error {
  override readonly name = 'QueryFailedError';
  constructor(
    readonly queryId: string,
    readonly state: string,
    reason: string,
  ) {
    super(`query ${queryId} ${state}: ${reason}`);
  }
}

/**
 * What the batch layer needs of a SQL engine: Athena in AWS, DuckDB locally. The state machine starts
 * and awaits queries itself in AWS (Athena `.sync`); the load step only reads results by id.
 */
export interface QueryEngine {
  /** Starts a query; resolves to its id. */
  start(sql: string): Promise<string>;
  /** Waits until the query succeeded; rejects with QueryFailedError otherwise. */
  wait(queryId: string): Promise<void>;
  /** The result rows by column name; integers may come as text (Athena) or bigint (DuckDB). */
  results(queryId: string): AsyncIterable<Record<string, SqlCell>>;
}
