import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type QueryExecutionState,
  type Row,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AthenaQueryEngine } from '../../functions/adapters/athena';
import { QueryFailedError } from '../../functions/adapters/query-engine';

const athena = mockClient(AthenaClient);

const row = (...values: (string | undefined)[]): Row => ({
  Data: values.map((value) => (value === undefined ? {} : { VarCharValue: value })),
});

const collect = async <T>(items: AsyncIterable<T>): Promise<T[]> => {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
};

const status = (State: QueryExecutionState, StateChangeReason?: string) => ({
  QueryExecution: { QueryExecutionId: 'q-1', Status: { State, StateChangeReason } },
});

describe('AthenaQueryEngine', () => {
  let delays: number[];
  let engine: AthenaQueryEngine;

  beforeEach(() => {
    athena.reset();
    // Only Date is faked: the recording sleep advances the clock the timeout is measured on.
    vi.useFakeTimers({ toFake: ['Date'] });
    delays = [];
    engine = new AthenaQueryEngine(new AthenaClient({}), {
      workGroup: 'driftless',
      database: 'lake',
      pollIntervalMs: 100,
      maxPollIntervalMs: 500,
      timeoutMs: 10_000,
      sleep: async (ms) => {
        delays.push(ms);
        vi.advanceTimersByTime(ms);
      },
    });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts a query in the work group and database and returns its id', async () => {
    // Prepare
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });

    // Act
    const id = await engine.start('SELECT 1');

    // Assess
    expect(id).toBe('q-1');
    expect(athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input).toEqual({
      QueryString: 'SELECT 1',
      WorkGroup: 'driftless',
      QueryExecutionContext: { Database: 'lake', Catalog: 'AwsDataCatalog' },
    });
  });

  it('rejects a start response without a query id', async () => {
    // Prepare
    athena.on(StartQueryExecutionCommand).resolves({});

    // Act & Assess
    await expect(engine.start('SELECT 1')).rejects.toThrow(/no QueryExecutionId/);
  });

  it('polls through QUEUED and RUNNING until SUCCEEDED', async () => {
    // Prepare
    athena
      .on(GetQueryExecutionCommand, { QueryExecutionId: 'q-1' })
      .resolvesOnce(status('QUEUED'))
      .resolvesOnce(status('RUNNING'))
      .resolves(status('SUCCEEDED'));

    // Act
    await engine.wait('q-1');

    // Assess
    expect(athena.commandCalls(GetQueryExecutionCommand)).toHaveLength(3);
    expect(delays).toEqual([100, 200]);
  });

  it('doubles the poll delay up to the cap', async () => {
    // Prepare
    const running = athena.on(GetQueryExecutionCommand);
    for (let i = 0; i < 6; i++) running.resolvesOnce(status('RUNNING'));
    running.resolves(status('SUCCEEDED'));

    // Act
    await engine.wait('q-1');

    // Assess
    expect(delays).toEqual([100, 200, 400, 500, 500, 500]);
  });

  it('throws QueryFailedError with the id and reason when the query FAILED', async () => {
    // Prepare
    athena.on(GetQueryExecutionCommand).resolves(status('FAILED', 'COLUMN_NOT_FOUND: amount'));

    // Act
    const error = await engine.wait('q-1').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(QueryFailedError);
    expect(error).toMatchObject({
      queryId: 'q-1',
      state: 'FAILED',
      message: 'query q-1 FAILED: COLUMN_NOT_FOUND: amount',
    });
  });

  it('falls back to the Athena error message when there is no state change reason', async () => {
    // Prepare
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: { Status: { State: 'CANCELLED', AthenaError: { ErrorMessage: 'stopped by user' } } },
    });

    // Act & Assess
    await expect(engine.wait('q-1')).rejects.toMatchObject({
      state: 'CANCELLED',
      message: /stopped by user/,
    });
  });

  it('throws a TIMEOUT QueryFailedError once the query runs past the timeout', async () => {
    // Prepare
    athena.on(GetQueryExecutionCommand).resolves(status('RUNNING'));

    // Act
    const error = await engine.wait('q-1').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(QueryFailedError);
    expect(error).toMatchObject({ queryId: 'q-1', state: 'TIMEOUT' });
    expect(delays.reduce((sum, ms) => sum + ms, 0)).toBe(10_000);
  });

  it('reads every page, skipping the header row on the first page only and keeping null cells', async () => {
    // Prepare
    athena
      .on(GetQueryResultsCommand, { QueryExecutionId: 'q-1' })
      .resolvesOnce({
        ResultSet: {
          ResultSetMetadata: {
            ColumnInfo: [
              { Name: 'country', Type: 'varchar' },
              { Name: 'total', Type: 'bigint' },
            ],
          },
          Rows: [row('country', 'total'), row('US', '10')],
        },
        NextToken: 't2',
      })
      .resolvesOnce({ ResultSet: { Rows: [row('country', '20'), row(undefined, '30')] }, NextToken: 't3' })
      .resolvesOnce({ ResultSet: { Rows: [row('FR', undefined)] } });

    // Act
    const records = await collect(engine.results('q-1'));

    // Assess
    expect(records).toEqual([
      { country: 'US', total: '10' },
      { country: 'country', total: '20' },
      { country: null, total: '30' },
      { country: 'FR', total: null },
    ]);
    expect(athena.commandCalls(GetQueryResultsCommand).map((call) => call.args[0].input)).toEqual([
      { QueryExecutionId: 'q-1', MaxResults: 1000, NextToken: undefined },
      { QueryExecutionId: 'q-1', MaxResults: 1000, NextToken: 't2' },
      { QueryExecutionId: 'q-1', MaxResults: 1000, NextToken: 't3' },
    ]);
  });

  it('names columns from the header row when there is no column metadata', async () => {
    // Prepare
    athena
      .on(GetQueryResultsCommand)
      .resolves({ ResultSet: { Rows: [row('day', 'n'), row('2026-01-01', '3')] } });

    // Act
    const records = await collect(engine.results('q-1'));

    // Assess
    expect(records).toEqual([{ day: '2026-01-01', n: '3' }]);
  });

  it('wraps an SDK error while reading results in a QueryFailedError carrying the query id', async () => {
    // Prepare
    athena
      .on(GetQueryResultsCommand)
      .resolvesOnce({ ResultSet: { Rows: [row('n'), row('1')] }, NextToken: 't2' })
      .rejects(new Error('Rate exceeded'));

    // Act
    const error = await collect(engine.results('q-7')).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(QueryFailedError);
    expect(error).toMatchObject({
      queryId: 'q-7',
      state: 'RESULTS',
      message: 'query q-7 RESULTS: Rate exceeded',
    });
  });
});
