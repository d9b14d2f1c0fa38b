import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DuckDbQueryEngine } from '../../functions/adapters/duckdb';
import { archiveCatalogPrefix } from '../../functions/commons/layout';
import { type EventCatalogs, eventsTableOf, type SqlCell } from '../../functions/core';
import { readBody, type S3Fake, signingProblem } from './s3-fake';

type QueryState = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

interface ColumnInfo {
  CatalogName: string;
  SchemaName: string;
  TableName: string;
  Name: string;
  Label: string;
  Type: string;
  Precision: number;
  Scale: number;
  Nullable: 'UNKNOWN';
  CaseSensitive: boolean;
}

interface QueryExecution {
  readonly id: string;
  readonly sql: string;
  readonly workGroup: string;
  readonly database: string;
  readonly submittedAt: number;
  state: QueryState;
  completedAt?: number;
  reason?: string;
  columns?: ColumnInfo[];
  /** Athena's result rows: the header row first, then every row as text. */
  rows?: { Data: { VarCharValue?: string }[] }[];
}

/** DuckDB's column types as Athena (Trino) names them; SUM(BIGINT) is HUGEINT in DuckDB, BIGINT in Trino. */
function athenaType(duckType: string): { type: string; precision: number; scale: number } {
  const decimal = /^DECIMAL\((\d+),(\d+)\)$/.exec(duckType);
  if (decimal) return { type: 'decimal', precision: Number(decimal[1]), scale: Number(decimal[2]) };
  const types: Record<string, { type: string; precision: number; scale: number }> = {
    BIGINT: { type: 'bigint', precision: 19, scale: 0 },
    HUGEINT: { type: 'bigint', precision: 19, scale: 0 },
    INTEGER: { type: 'integer', precision: 10, scale: 0 },
    VARCHAR: { type: 'varchar', precision: 2_147_483_647, scale: 0 },
    DOUBLE: { type: 'double', precision: 17, scale: 0 },
    BOOLEAN: { type: 'boolean', precision: 0, scale: 0 },
    // CAST(array AS JSON): the data-quality report's `days`.
    JSON: { type: 'json', precision: 0, scale: 0 },
  };
  const known = types[duckType];
  if (known === undefined) throw new Error(`the fake has no Athena type for DuckDB's ${duckType}`);
  return known;
}

class AthenaError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_RESULTS = 1000;

/**
 * Athena on loopback, speaking its JSON protocol (`X-Amz-Target: AmazonAthena.<Operation>`) for
 * StartQueryExecution, GetQueryExecution and GetQueryResults. Queries run on DuckDB
 * (`DuckDbQueryEngine`) straight from the S3 fake's folder of the archive bucket, the way Athena reads
 * each catalog's table: each gzip JSON object under `events/<catalog>/dt=<day>/`, whatever its name. Results
 * are shaped as Athena's: the header row first on the first page, every value as VarCharValue text, a
 * null as no VarCharValue, and ColumnInfo.
 */
export class AthenaFake {
  private readonly server = createServer((request, response) => {
    this.handle(request, response).catch((error: unknown) => {
      const athena =
        error instanceof AthenaError ? error : new AthenaError('InternalServerException', String(error));
      response.writeHead(athena.type === 'InternalServerException' ? 500 : 400, {
        'Content-Type': 'application/x-amz-json-1.1',
        'x-amzn-ErrorType': athena.type,
      });
      response.end(JSON.stringify({ __type: athena.type, Message: athena.message }));
    });
  });
  private readonly queries = new Map<string, QueryExecution>();
  /** One query at a time: each rereads the table's objects, which a running query reads. */
  private queue: Promise<unknown> = Promise.resolve();
  endpoint = '';

  private constructor(
    private readonly engine: DuckDbQueryEngine,
    private readonly options: AthenaFakeOptions,
  ) {}

  static async start(options: AthenaFakeOptions): Promise<AthenaFake> {
    for (const catalog of options.catalogs.all) {
      const table = options.tableLocation.tables.find(({ name }) => name === eventsTableOf(catalog));
      if (table?.prefix !== archiveCatalogPrefix(catalog.name))
        throw new Error(
          `the table ${eventsTableOf(catalog)} reads ${table?.prefix}, DuckDbQueryEngine reads ${archiveCatalogPrefix(catalog.name)}`,
        );
    }
    const engine = await DuckDbQueryEngine.open(options.catalogs);
    const fake = new AthenaFake(engine, options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.endpoint = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  /** Every query started, in order. */
  get executed(): readonly { readonly sql: string; readonly state: QueryState }[] {
    return [...this.queries.values()].map(({ sql, state }) => ({ sql, state }));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.queue;
    this.engine.close();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const unsigned = signingProblem(request, this.options.region, 'athena');
    if (unsigned !== null) throw new AthenaError('AccessDeniedException', unsigned);
    const target = String(request.headers['x-amz-target'] ?? '');
    const input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
    let output: unknown;
    if (target === 'AmazonAthena.StartQueryExecution') output = this.startQueryExecution(input);
    else if (target === 'AmazonAthena.GetQueryExecution') output = this.getQueryExecution(input);
    else if (target === 'AmazonAthena.GetQueryResults') output = this.getQueryResults(input);
    else throw new AthenaError('UnknownOperationException', `the fake has no ${target}`);
    response.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' });
    response.end(JSON.stringify(output));
  }

  private startQueryExecution(input: Record<string, unknown>): unknown {
    const sql = input.QueryString;
    const workGroup = input.WorkGroup ?? 'primary';
    const database = (input.QueryExecutionContext as { Database?: string } | undefined)?.Database;
    if (typeof sql !== 'string' || sql.length === 0)
      throw new AthenaError('InvalidRequestException', 'QueryString is required');
    if (Buffer.byteLength(sql) > 262_144)
      throw new AthenaError('InvalidRequestException', 'QueryString is longer than 262144 bytes');
    if (workGroup !== this.options.workGroup)
      throw new AthenaError('InvalidRequestException', `WorkGroup ${String(workGroup)} is not found.`);
    const query: QueryExecution = {
      id: randomUUID(),
      sql,
      workGroup,
      database: String(database),
      submittedAt: Date.now(),
      state: 'QUEUED',
    };
    this.queries.set(query.id, query);
    this.queue = this.queue.then(() => this.run(query));
    return { QueryExecutionId: query.id };
  }

  private async run(query: QueryExecution): Promise<void> {
    query.state = 'RUNNING';
    try {
      // Athena fails a query on an unknown database when it runs, not when it is started.
      if (query.database !== this.options.database)
        throw new Error(`SCHEMA_NOT_FOUND: Schema '${query.database}' does not exist`);
      await this.readTableObjects();
      const id = await this.engine.start(query.sql);
      const records: Record<string, SqlCell>[] = [];
      for await (const record of this.engine.results(id)) records.push(record);
      const described = await this.engine.query(`DESCRIBE ${query.sql}`);
      query.columns = described.map((column) => {
        const name = String(column.column_name);
        const { type, precision, scale } = athenaType(String(column.column_type));
        return {
          CatalogName: 'hive',
          SchemaName: '',
          TableName: '',
          Name: name,
          Label: name,
          Type: type,
          Precision: precision,
          Scale: scale,
          Nullable: 'UNKNOWN',
          CaseSensitive: type === 'varchar',
        };
      });
      const names = query.columns.map((column) => column.Name);
      const text = (cell: SqlCell | undefined) =>
        cell === null || cell === undefined ? {} : { VarCharValue: String(cell) };
      query.rows = [
        { Data: names.map((name) => ({ VarCharValue: name })) },
        ...records.map((record) => ({ Data: names.map((name) => text(record[name])) })),
      ];
      query.state = 'SUCCEEDED';
    } catch (error) {
      query.state = 'FAILED';
      query.reason = (error as Error).message;
    }
    query.completedAt = Date.now();
  }

  /**
   * Points DuckDB at the table's objects, refusing any it would pass over: Athena reads every object of
   * a partition, DuckDbQueryEngine the `.gz` (and `.parquet`) files of each `events/<catalog>/dt=<day>/`
   * folder.
   */
  private async readTableObjects(): Promise<void> {
    const { bucket, tables } = this.options.tableLocation;
    for (const { prefix } of tables)
      for (const { key } of await this.options.s3.list(bucket, prefix)) {
        const name = /^dt=\d{4}-\d{2}-\d{2}\/([^/]+)$/.exec(key.slice(prefix.length))?.[1];
        if (name === undefined) throw new Error(`HIVE_BAD_DATA: ${key} is not in a dt= partition`);
        if (!name.endsWith('.gz'))
          throw new Error(`the fake reads gzip JSON objects only; ${key} is not one`);
      }
    await this.engine.useArchive(this.options.s3.folderOf(bucket));
  }

  private execution(input: Record<string, unknown>): QueryExecution {
    const query = this.queries.get(String(input.QueryExecutionId));
    if (query === undefined)
      throw new AthenaError(
        'InvalidRequestException',
        `QueryExecution ${String(input.QueryExecutionId)} was not found`,
      );
    return query;
  }

  private getQueryExecution(input: Record<string, unknown>): unknown {
    const query = this.execution(input);
    return {
      QueryExecution: {
        QueryExecutionId: query.id,
        Query: query.sql,
        StatementType: 'DML',
        QueryExecutionContext: { Database: query.database, Catalog: 'AwsDataCatalog' },
        WorkGroup: query.workGroup,
        Status: {
          State: query.state,
          // JSON protocol timestamps are epoch seconds.
          SubmissionDateTime: query.submittedAt / 1000,
          ...(query.completedAt === undefined ? {} : { CompletionDateTime: query.completedAt / 1000 }),
          ...(query.reason === undefined ? {} : { StateChangeReason: query.reason }),
        },
        EngineVersion: { SelectedEngineVersion: 'AUTO', EffectiveEngineVersion: 'Athena engine version 3' },
      },
    };
  }

  private getQueryResults(input: Record<string, unknown>): unknown {
    const query = this.execution(input);
    if (query.state !== 'SUCCEEDED' || query.rows === undefined)
      throw new AthenaError(
        'InvalidRequestException',
        `Query has not yet finished. Current state: ${query.state}${query.reason ? ` (${query.reason})` : ''}`,
      );
    const maxResults = input.MaxResults === undefined ? MAX_RESULTS : Number(input.MaxResults);
    if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > MAX_RESULTS)
      throw new AthenaError('InvalidRequestException', `MaxResults must be 1 to ${MAX_RESULTS}`);
    const offset =
      input.NextToken === undefined ? 0 : Number(Buffer.from(String(input.NextToken), 'base64url'));
    const rows = query.rows.slice(offset, offset + maxResults);
    const next = offset + rows.length;
    return {
      UpdateCount: 0,
      ResultSet: { Rows: rows, ResultSetMetadata: { ColumnInfo: query.columns } },
      ...(next < query.rows.length ? { NextToken: Buffer.from(String(next)).toString('base64url') } : {}),
    };
  }
}

export interface AthenaFakeOptions {
  readonly catalogs: EventCatalogs;
  readonly region: string;
  /** The only work group and Glue database that exist. */
  readonly workGroup: string;
  readonly database: string;
  /** Where the table's objects are stored: a bucket of this fake S3, which keeps each as a file. */
  readonly s3: S3Fake;
  /** The catalogs' tables' location (`archiveLocationOf`): the archive bucket, each table's folder. */
  readonly tableLocation: {
    readonly bucket: string;
    readonly tables: readonly { readonly name: string; readonly prefix: string }[];
  };
}
