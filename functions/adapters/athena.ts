import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type Row,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import type { SqlCell } from '../core';
import { type QueryEngine, QueryFailedError } from './query-engine';

export interface AthenaQueryEngineOptions {
  workGroup: string;
  database: string;
  /** Defaults to `AwsDataCatalog`. */
  catalog?: string;
  /** First delay between status polls; doubles up to `maxPollIntervalMs`. */
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** How long `wait` polls before giving up; defaults to 15 minutes. */
  timeoutMs?: number;
  /** Injected by tests to skip real delays. */
  sleep?: (ms: number) => Promise<void>;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const cells = (row: Row | undefined): (string | null)[] =>
  (row?.Data ?? []).map((datum) => datum.VarCharValue ?? null);

/** Athena as the batch layer's SQL engine: results are read page by page from its result API. */
export class AthenaQueryEngine implements QueryEngine {
  private readonly options: Required<AthenaQueryEngineOptions>;

  constructor(
    private readonly client: AthenaClient,
    options: AthenaQueryEngineOptions,
  ) {
    this.options = {
      catalog: 'AwsDataCatalog',
      pollIntervalMs: 250,
      maxPollIntervalMs: 5000,
      timeoutMs: 15 * 60 * 1000,
      sleep: delay,
      ...options,
    };
  }

  async start(sql: string): Promise<string> {
    const { workGroup, database, catalog } = this.options;
    const { QueryExecutionId } = await this.client.send(
      new StartQueryExecutionCommand({
        QueryString: sql,
        WorkGroup: workGroup,
        QueryExecutionContext: { Database: database, Catalog: catalog },
      }),
    );
    if (!QueryExecutionId) throw new Error(`Athena returned no QueryExecutionId (work group ${workGroup})`);
    return QueryExecutionId;
  }

  async wait(queryId: string): Promise<void> {
    const { pollIntervalMs, maxPollIntervalMs, timeoutMs, sleep } = this.options;
    const deadline = Date.now() + timeoutMs;
    for (let interval = pollIntervalMs; ; interval = Math.min(interval * 2, maxPollIntervalMs)) {
      const { QueryExecution } = await this.client.send(
        new GetQueryExecutionCommand({ QueryExecutionId: queryId }),
      );
      const status = QueryExecution?.Status;
      const state = status?.State;
      if (state === 'SUCCEEDED') return;
      if (state === 'FAILED' || state === 'CANCELLED') {
        const reason = status?.StateChangeReason ?? status?.AthenaError?.ErrorMessage ?? 'unknown';
        throw new QueryFailedError(queryId, state, reason);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new QueryFailedError(queryId, 'TIMEOUT', `still ${state ?? 'unknown'} after ${timeoutMs} ms`);
      }
      // Never sleep past the deadline, so the timeout is honoured within one poll.
      await sleep(Math.min(interval, remaining));
    }
  }

  async *results(queryId: string): AsyncIterable<Record<string, SqlCell>> {
    let columns: string[] | undefined;
    let nextToken: string | undefined;
    do {
      const page = await this.client
        .send(
          new GetQueryResultsCommand({ QueryExecutionId: queryId, MaxResults: 1000, NextToken: nextToken }),
        )
        .catch((error: unknown) => {
          throw new QueryFailedError(
            queryId,
            'RESULTS',
            error instanceof Error ? error.message : String(error),
          );
        });
      let rows = page.ResultSet?.Rows ?? [];
      if (columns === undefined) {
        // Athena repeats the column names as the first row of the first page only.
        const header = cells(rows[0]).map((name, index) => name ?? `_col${index}`);
        const info = page.ResultSet?.ResultSetMetadata?.ColumnInfo;
        columns = info?.length
          ? info.map((column, index) => column.Name ?? header[index] ?? `_col${index}`)
          : header;
        rows = rows.slice(1);
      }
      for (const row of rows) {
        const values = cells(row);
        yield Object.fromEntries(columns.map((column, index) => [column, values[index] ?? null]));
      }
      nextToken = page.NextToken;
    } while (nextToken);
  }
}
