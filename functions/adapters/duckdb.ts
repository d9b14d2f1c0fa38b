import { randomUUID } from 'node:crypto';
import { glob } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBDecimalValue,
  DuckDBInstance,
} from '@duckdb/node-api';
import { archiveDayPrefix } from '../commons/layout';
import {
  compileSql,
  dayOf,
  EVENT_TYPE_FIELD,
  type EventCatalog,
  type EventCatalogs,
  type EventRecord,
  eventsTableOf,
  PARTITION_COLUMN,
  parseSqlRow,
  quoteIdentifier,
  quoteString,
  type SqlCell,
  type ViewDefinition,
  type ViewRow,
} from '../core';
import { OBJECT_PATH_COLUMN, type QueryEngine, QueryFailedError } from './query-engine';

/**
 * A catalog's events in an archive folder: `<catalog folder>/<day folder>/<file>.gz` (gzip JSON lines, as
 * Firehose names them) or `.parquet`.
 */
const archiveFiles = (catalog: EventCatalog, extension: string) =>
  `${archiveDayPrefix(catalog.name, '*')}*.${extension}`;

const sqlType = (catalog: EventCatalog, field: string): string =>
  catalog.fields[field]?.type === 'integer' ? 'BIGINT' : 'VARCHAR';

const OBJECT_PATH = quoteIdentifier(OBJECT_PATH_COLUMN);

/**
 * The columns of a catalog's table, cast to the catalog's types, then the partition column and the object
 * each row was read from. A column missing from every file of a source (a field added to the catalog
 * later) reads as NULL.
 */
function projection(catalog: EventCatalog, present?: ReadonlySet<string>): string {
  const fields = Object.keys(catalog.fields).map((field) => {
    const source = present === undefined || present.has(field) ? quoteIdentifier(field) : 'NULL';
    return `CAST(${source} AS ${sqlType(catalog, field)}) AS ${quoteIdentifier(field)}`;
  });
  return [
    ...fields,
    `CAST(${PARTITION_COLUMN} AS VARCHAR) AS ${PARTITION_COLUMN}`,
    `CAST(${OBJECT_PATH} AS VARCHAR) AS ${OBJECT_PATH}`,
  ].join(', ');
}

async function hasFiles(pattern: string, cwd: string): Promise<boolean> {
  for await (const _ of glob(pattern, { cwd })) return true;
  return false;
}

function toCell(value: unknown): SqlCell {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return value;
  if (value instanceof DuckDBDecimalValue && value.scale === 0) return value.value;
  return String(value);
}

/**
 * DuckDB in place of Athena: exposes each catalog's raw events as its table, `events_<catalog>` (from a
 * local archive folder, or events held in memory), and runs a view's compiled SQL on them, unchanged.
 */
export class DuckDbQueryEngine implements QueryEngine {
  private archiveDir: string | null = null;
  /** Results of started queries, by id, until read: Athena keeps them in S3, this engine in memory. */
  private readonly finished = new Map<string, Record<string, SqlCell>[]>();
  private queue: Promise<unknown> = Promise.resolve();

  /** Each catalog table's current kind, by table name: a view over the archive, or a table in memory. */
  private readonly relationKinds = new Map<string, 'VIEW' | 'TABLE'>();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    readonly catalogs: EventCatalogs,
  ) {}

  static async open(catalogs: EventCatalogs, path = ':memory:'): Promise<DuckDbQueryEngine> {
    const instance = await DuckDBInstance.create(path);
    return new DuckDbQueryEngine(instance, await instance.connect(), catalogs);
  }

  /** Reads each catalog's table from its folder of an archive folder; files added later are seen by the next query. */
  async useArchive(archiveDir: string): Promise<void> {
    this.archiveDir = archiveDir;
    await this.refreshArchiveView();
  }

  /**
   * Holds the given events as the catalogs' tables, each in the table of the catalog its `type` names
   * (every other table empty); the partition column is derived from event time. An event of no catalog
   * is refused: no archive holds one.
   */
  async useEvents(events: Iterable<EventRecord>): Promise<void> {
    this.archiveDir = null;
    const byCatalog = new Map<string, EventRecord[]>(this.catalogs.names.map((name) => [name, []]));
    for (const event of events) {
      const type = event[EVENT_TYPE_FIELD];
      const held = typeof type === 'string' ? byCatalog.get(type) : undefined;
      if (held === undefined)
        throw new RangeError(
          `an event of no catalog (${EVENT_TYPE_FIELD} ${JSON.stringify(type)}) cannot be held`,
        );
      held.push(event);
    }
    for (const catalog of this.catalogs.all)
      await this.holdEvents(catalog, byCatalog.get(catalog.name) as EventRecord[]);
  }

  private async holdEvents(catalog: EventCatalog, events: readonly EventRecord[]): Promise<void> {
    const table = eventsTableOf(catalog);
    await this.dropRelation(table);
    const fields = Object.keys(catalog.fields);
    const columns = fields.map((field) => `${quoteIdentifier(field)} ${sqlType(catalog, field)}`);
    await this.connection.run(
      `CREATE TABLE ${table} (${[...columns, `${PARTITION_COLUMN} VARCHAR`, `${OBJECT_PATH} VARCHAR`].join(', ')})`,
    );
    this.relationKinds.set(table, 'TABLE');
    const appender = await this.connection.createAppender(table);
    try {
      for (const event of events) {
        for (const field of fields) appendValue(catalog, appender, field, event[field]);
        const ts = event[catalog.timeField];
        if (typeof ts === 'number' && Number.isSafeInteger(ts) && ts >= 0) appender.appendVarchar(dayOf(ts));
        else appender.appendNull();
        appender.appendNull(); // held in memory: read from no object
        appender.endRow();
      }
    } finally {
      appender.closeSync();
    }
  }

  /** Runs a statement and returns its rows with integers as bigint and DECIMAL(p, 0) as bigint. */
  async query(sql: string): Promise<Record<string, SqlCell>[]> {
    const reader = await this.connection.runAndReadAll(sql);
    return reader
      .getRowObjects()
      .map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, toCell(v)])));
  }

  async runView(view: ViewDefinition, sql: string = compileSql(view)): Promise<ViewRow[]> {
    const records = await this.exclusively(async () => {
      // The view reads its catalog's table only (the engine's catalog of that name).
      const read = this.catalogs.get(view.events.name);
      if (this.archiveDir !== null) await this.refreshArchiveView(read === undefined ? [] : [read]);
      return this.query(sql);
    });
    return records.map((record) => parseSqlRow(view, record));
  }

  /** QueryEngine: runs the query at once; its rows wait for `results`. */
  async start(sql: string): Promise<string> {
    const id = randomUUID();
    try {
      this.finished.set(
        id,
        await this.exclusively(async () => {
          if (this.archiveDir !== null) await this.refreshArchiveView(this.catalogsReadBy(sql));
          return this.query(sql);
        }),
      );
    } catch (error) {
      throw new QueryFailedError(id, 'FAILED', (error as Error).message);
    }
    return id;
  }

  /** Writes a query's rows to a file (CSV with a header, or Parquet); resolves to the rows written. */
  async copyTo(sql: string, path: string, format: 'csv' | 'parquet'): Promise<number> {
    const options = format === 'csv' ? 'FORMAT CSV, HEADER' : 'FORMAT PARQUET';
    const [result] = await this.exclusively(async () => {
      if (this.archiveDir !== null) await this.refreshArchiveView(this.catalogsReadBy(sql));
      return this.query(`COPY (${sql}) TO ${quoteString(path)} (${options})`);
    });
    return Number(result?.Count ?? 0);
  }

  /** One query at a time: a refresh replaces the catalogs' tables, which a concurrent query would lose. */
  private exclusively<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work);
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async wait(queryId: string): Promise<void> {
    if (!this.finished.has(queryId)) throw new QueryFailedError(queryId, 'UNKNOWN', 'no such query');
  }

  async *results(queryId: string): AsyncIterable<Record<string, SqlCell>> {
    const rows = this.finished.get(queryId);
    if (rows === undefined) throw new QueryFailedError(queryId, 'UNKNOWN', 'no such query');
    this.finished.delete(queryId);
    yield* rows;
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }

  private async dropRelation(name: string): Promise<void> {
    const kind = this.relationKinds.get(name);
    if (kind !== undefined) await this.connection.run(`DROP ${kind} ${name}`);
    this.relationKinds.delete(name);
  }

  /**
   * Rebuilds the catalogs' views over the archive's files as they are now: each lists its folder and
   * describes its Parquet files, so a query refreshes only the tables it reads.
   */
  private async refreshArchiveView(catalogs: readonly EventCatalog[] = this.catalogs.all): Promise<void> {
    for (const catalog of catalogs) await this.refreshCatalogView(catalog);
  }

  /** The catalogs whose table a query names (`events_<name>`, a whole word: not `events_<name>_x`). */
  private catalogsReadBy(sql: string): EventCatalog[] {
    return this.catalogs.all.filter((catalog) => new RegExp(`\\b${eventsTableOf(catalog)}\\b`).test(sql));
  }

  private async refreshCatalogView(catalog: EventCatalog): Promise<void> {
    const dir = this.archiveDir;
    if (dir === null) return;
    const select = projection(catalog);
    const sources: string[] = [];
    const jsonFiles = archiveFiles(catalog, 'gz');
    if (await hasFiles(jsonFiles, dir)) {
      const columns = Object.keys(catalog.fields)
        .map((field) => `${quoteString(field)}: ${quoteString(sqlType(catalog, field))}`)
        .join(', ');
      // A line DuckDB cannot read (malformed JSON, a lone surrogate escape) becomes a row of NULLs instead
      // of failing every query, as Athena's JSON SerDe does with ignore.malformed.json: the batch layer
      // counts such rows by object and leaves them out.
      sources.push(
        `SELECT ${select} FROM read_json(${quoteString(join(dir, jsonFiles))}, format = 'newline_delimited', ` +
          `columns = {${columns}}, hive_partitioning = true, hive_types_autocast = false, ` +
          `ignore_errors = true, filename = ${quoteString(OBJECT_PATH_COLUMN)})`,
      );
    }
    const parquetFiles = archiveFiles(catalog, 'parquet');
    if (await hasFiles(parquetFiles, dir)) {
      const parquet =
        `read_parquet(${quoteString(join(dir, parquetFiles))}, ` +
        'hive_partitioning = true, hive_types_autocast = false, union_by_name = true, ' +
        `filename = ${quoteString(OBJECT_PATH_COLUMN)})`;
      const described = await this.query(`DESCRIBE SELECT * FROM ${parquet}`);
      const present = new Set(described.map((column) => String(column.column_name)));
      sources.push(`SELECT ${projection(catalog, present)} FROM ${parquet}`);
    }
    if (sources.length === 0) {
      // An empty archive still has the table's columns, as the Glue table has before the first delivery.
      const nulls = Object.keys(catalog.fields).map((field) => `NULL AS ${quoteIdentifier(field)}`);
      sources.push(
        `SELECT ${select} FROM (SELECT ${[...nulls, `NULL AS ${PARTITION_COLUMN}`, `NULL AS ${OBJECT_PATH}`].join(', ')}) WHERE FALSE`,
      );
    }
    const table = eventsTableOf(catalog);
    await this.dropRelation(table);
    await this.connection.run(`CREATE VIEW ${table} AS ${sources.join(' UNION ALL ')}`);
    this.relationKinds.set(table, 'VIEW');
  }
}

function appendValue(catalog: EventCatalog, appender: DuckDBAppender, field: string, value: unknown): void {
  if (value === null || value === undefined) appender.appendNull();
  else if (catalog.fields[field]?.type === 'integer') appender.appendBigInt(BigInt(value as number));
  else appender.appendVarchar(String(value));
}
