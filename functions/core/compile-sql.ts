import type { EventCatalog } from './catalog';
import { consecutiveDayRanges, type DayRange, daysBetween, mergeDayRanges } from './days';
import { type DistantCopies, dedupeOrderFields, dedupeReadRanges } from './dedupe';
import type { Expr } from './expr';
import { BUCKET_WIDTH_MS, type BucketWidth, type GroupValue } from './keys';
import type { MeasureValue } from './monoid';
import type { ViewRow } from './rows';
import type { ViewDefinition } from './view';

/**
 * The batch layer's compilation of a view: one SQL text that runs unchanged on Athena (Trino) and
 * on DuckDB. It keeps to their common subset: quoted identifiers, `AS` before every alias, BIGINT
 * literals by CAST (a bare literal is a 32-bit INTEGER in Trino), no `/`, bucket by `%`, and sums
 * as DECIMAL(38,0) so that neither engine overflows where the other would not.
 */

/**
 * The relation both engines read a catalog's events from, `events_<catalog>`: its Glue table in AWS, a
 * DuckDB view over its folder of the local archive. A catalog's name is a lowercase identifier, so the
 * relation's name needs no quoting.
 */
export const eventsTableOf = (catalog: Pick<EventCatalog, 'name'>): string => `events_${catalog.name}`;

export const quoteIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`;
export const quoteString = (value: string): string => `'${value.replaceAll("'", "''")}'`;
const bigintLiteral = (value: number | bigint): string => `CAST(${value} AS BIGINT)`;

export function exprToSql(expr: Expr): string {
  switch (expr.kind) {
    case 'field':
      return quoteIdentifier(expr.name);
    case 'integer':
      return bigintLiteral(expr.value);
    case 'string':
      return quoteString(expr.value);
    case 'arith':
      return `(${exprToSql(expr.left)} ${expr.op} ${exprToSql(expr.right)})`;
    case 'compare':
      return `(${exprToSql(expr.left)} ${expr.op} ${exprToSql(expr.right)})`;
    case 'and':
    case 'or':
      return `(${expr.args.map(exprToSql).join(` ${expr.kind.toUpperCase()} `)})`;
    case 'not':
      return `(NOT ${exprToSql(expr.arg)})`;
    case 'in':
      return `(${exprToSql(expr.arg)} IN (${expr.values.map(exprToSql).join(', ')}))`;
    case 'isNull':
      return `(${exprToSql(expr.arg)} IS NULL)`;
    case 'coalesce':
      return `COALESCE(${expr.args.map(exprToSql).join(', ')})`;
    case 'case': {
      const whens = expr.whens.map(
        (branch) => `WHEN ${exprToSql(branch.when)} THEN ${exprToSql(branch.value)}`,
      );
      const otherwise = expr.else === null ? '' : ` ELSE ${exprToSql(expr.else)}`;
      return `(CASE ${whens.join(' ')}${otherwise} END)`;
    }
  }
}

/**
 * The catalog's validity rules as a SQL predicate: the rows the speed layer would not quarantine.
 * Lengths are `length()`, which counts code points in Trino and DuckDB alike, as the catalog does.
 * Well-formed Unicode needs no rule: a line holding a lone surrogate never reaches the archive (the
 * transform refuses it; DuckDB could not read it).
 */
export function validitySql(catalog: EventCatalog): string {
  const conditions: string[] = [];
  for (const [name, rule] of Object.entries(catalog.rules)) {
    const column = quoteIdentifier(name);
    const rules: string[] = [];
    if (rule.type === 'integer') {
      rules.push(`${column} BETWEEN ${bigintLiteral(rule.min)} AND ${bigintLiteral(rule.max)}`);
    } else {
      // An option is within the length: IN says it all.
      if (rule.oneOf) rules.push(`${column} IN (${rule.oneOf.map(quoteString).join(', ')})`);
      else rules.push(`length(${column}) <= ${bigintLiteral(rule.maxLength)}`);
      if (rule.nonEmpty) rules.push(`${column} <> ''`);
    }
    if (rule.required) conditions.push(`${column} IS NOT NULL`, ...rules);
    else if (rules.length > 0) conditions.push(`(${column} IS NULL OR (${rules.join(' AND ')}))`);
  }
  return conditions.length === 0 ? 'TRUE' : conditions.join('\n    AND ');
}

/** The archive's partition column: event-time day, `YYYY-MM-DD`. */
export const PARTITION_COLUMN = 'dt';

export interface SqlOptions {
  /** Relation holding the raw events. @default the view's catalog's table, `eventsTableOf` */
  readonly relation?: string;
  /**
   * Only the rows of these event-time days (partitions): what bounds the bytes a run scans. The query
   * also reads the catalog's dedupe horizon of days before each (`dedupeReadRanges`): their copies
   * decide whether a copy on a computed day counts. Give `days` or `dayRanges`, not both.
   * @default every day
   */
  readonly days?: readonly string[];
  /** The computed days as ranges, as a plan carries them: the SQL grows with their number, not their days. */
  readonly dayRanges?: readonly DayRange[];
}

/** The computed days of the options as ranges, or undefined for every day. */
function computedRanges(options: SqlOptions): DayRange[] | undefined {
  if (options.days !== undefined && options.dayRanges !== undefined)
    throw new RangeError('give days or dayRanges, not both');
  if (options.dayRanges !== undefined) return mergeDayRanges(options.dayRanges);
  return options.days === undefined ? undefined : consecutiveDayRanges(options.days);
}

/**
 * Which raw events a computation of some days reads: the valid ones on those days and the dedupe
 * horizon's days before each (`dedupeReadRanges`), or on every day when none are given.
 */
function readEventsWhere(catalog: EventCatalog, computed: readonly DayRange[] | undefined): string {
  const partitions =
    computed === undefined
      ? ''
      : `${dayRangePredicate(dedupeReadRanges(computed, catalog.dedupeHorizonDays))}\n    AND `;
  return `${partitions}${validitySql(catalog)}`;
}

const DAY_MS_SQL = bigintLiteral(BUCKET_WIDTH_MS.day);

/** `bucketStart` in SQL: the start of the bucket holding an epoch-milliseconds BIGINT, by `%` on integers. */
const bucketStartSql = (time: string, width: BucketWidth): string =>
  `(${time} - (${time} % ${bigintLiteral(BUCKET_WIDTH_MS[width])}))`;

/** The start (epoch milliseconds) of an event's day: an integer the dedupe window ranges over. */
const eventDaySql = (catalog: EventCatalog): string =>
  bucketStartSql(quoteIdentifier(catalog.timeField), 'day');

/**
 * Per row, how many rows of its id lie on the `horizonDays` days before its own: a RANGE frame over the
 * day start, which Trino (since 346) and DuckDB both take with BIGINT offsets, excluding the row's own day.
 */
const recentRowsSql = (id: string, horizonDays: number): string =>
  `COUNT(*) OVER (PARTITION BY ${id} ORDER BY "event_day" ` +
  `RANGE BETWEEN ${bigintLiteral(horizonDays * BUCKET_WIDTH_MS.day)} PRECEDING AND ${DAY_MS_SQL} PRECEDING)`;

/**
 * A view's batch SQL. Producer duplicates follow the rule in dedupe.ts: per id and day the first copy
 * (row_number), counted unless a copy lies on the horizon's days before (a RANGE window). Over some
 * days, it reads them and the horizon before each, and outputs rows for those days only.
 */
export function compileSql(view: ViewDefinition, options: SqlOptions = {}): string {
  const catalog = view.events;
  const relation = options.relation ?? eventsTableOf(catalog);
  const columns = Object.keys(catalog.fields).map(quoteIdentifier).join(', ');
  const id = quoteIdentifier(catalog.idField);
  const ts = quoteIdentifier(view.time.field);
  const dedupeOrder = dedupeOrderFields(catalog)
    .map((field) => `${quoteIdentifier(field)} ASC NULLS LAST`)
    .join(', ');
  const bucket = bucketStartSql(ts, view.time.bucket);
  const groups = view.groupBy.map(quoteIdentifier);
  const measures = Object.entries(view.measures).map(([name, measure]) => {
    const alias = quoteIdentifier(name);
    if (measure.kind === 'count') return `COUNT(*) AS ${alias}`;
    const value = exprToSql(measure.expr);
    if (measure.kind === 'sum') return `SUM(CAST(${value} AS DECIMAL(38, 0))) AS ${alias}`;
    // BIGINT on both engines, 0 over no non-null value; after the dedupe, so a copy is not a second value.
    if (measure.kind === 'countDistinct') return `COUNT(DISTINCT ${value}) AS ${alias}`;
    return `${measure.kind.toUpperCase()}(${value}) AS ${alias}`;
  });
  const ordinals = [1, ...groups.map((_, index) => index + 2)];
  const horizon = catalog.dedupeHorizonDays;
  const computed = computedRanges(options);
  // With no horizon, copies on other days never matter: no window to compute.
  const recent = horizon === 0 ? '' : `,\n    ${recentRowsSql(id, horizon)} AS "recent_copies"`;
  const counted = [
    '"event_rank" = 1',
    ...(horizon === 0 ? [] : ['"recent_copies" = CAST(0 AS BIGINT)']),
    ...(computed === undefined ? [] : [dayRangePredicate(computed)]),
  ];
  return `WITH valid_events AS (
  SELECT ${columns}, ${PARTITION_COLUMN}, ${eventDaySql(catalog)} AS "event_day"
  FROM ${relation}
  WHERE ${readEventsWhere(catalog, computed)}
),
ranked_events AS (
  SELECT ${columns}, ${PARTITION_COLUMN},
    row_number() OVER (PARTITION BY ${id}, "event_day" ORDER BY ${dedupeOrder}) AS "event_rank"${recent}
  FROM valid_events
),
deduplicated_events AS (
  SELECT ${columns} FROM ranked_events
  WHERE ${counted.join(' AND ')}
)
SELECT
  ${[`${bucket} AS "bucket"`, ...groups.map((group) => `${group} AS ${group}`), ...measures].join(',\n  ')}
FROM deduplicated_events
WHERE ${view.where === null ? 'TRUE' : exprToSql(view.where)}
GROUP BY ${ordinals.join(', ')}
ORDER BY ${ordinals.map((ordinal) => `${ordinal} ASC NULLS LAST`).join(', ')}`;
}

/**
 * The distant-copies report: ids counted more than once because their copies lie further apart than
 * the dedupe horizon. Over the days a computation of the given days reads (the computed days and the
 * horizon before each; every day when none are given), the ids with a copy counted on a computed day
 * although an earlier day read holds a copy too; `distantCopies` in dedupe.ts states it in JavaScript.
 * Columns: `id` (VARCHAR) and `days` (JSON: an array of every `YYYY-MM-DD` day read that holds a valid
 * copy, ascending; Athena returns it as that text, DuckDB too), one row per id, ordered by id.
 * `parseDistantCopiesRow` reads a row. Portable as the view SQL is: `array_agg(... ORDER BY ...)` and
 * `CAST(array AS JSON)` are in Trino's and DuckDB's documentation alike.
 */
export function compileDistantCopiesSql(
  catalog: EventCatalog,
  options: Pick<SqlOptions, 'relation' | 'days' | 'dayRanges'> = {},
): string {
  const relation = options.relation ?? eventsTableOf(catalog);
  const id = quoteIdentifier(catalog.idField);
  const horizon = catalog.dedupeHorizonDays;
  const computed = computedRanges(options);
  const countedAgain = [
    ...(computed === undefined ? [] : [dayRangePredicate(computed)]),
    ...(horizon === 0 ? [] : ['"recent_days" = CAST(0 AS BIGINT)']),
    '"earlier_days" > CAST(0 AS BIGINT)',
  ];
  // One row per id and day: the windows count days holding a copy, not copies.
  const recent = horizon === 0 ? '' : `,\n    ${recentRowsSql('"id"', horizon)} AS "recent_days"`;
  return `WITH copy_days AS (
  SELECT DISTINCT ${id} AS "id", ${PARTITION_COLUMN}, ${eventDaySql(catalog)} AS "event_day"
  FROM ${relation}
  WHERE ${readEventsWhere(catalog, computed)}
),
marked_days AS (
  SELECT "id", ${PARTITION_COLUMN},
    COUNT(*) OVER (PARTITION BY "id" ORDER BY "event_day" RANGE BETWEEN UNBOUNDED PRECEDING AND ${DAY_MS_SQL} PRECEDING) AS "earlier_days"${recent}
  FROM copy_days
)
SELECT "id" AS "id", CAST(array_agg(${PARTITION_COLUMN} ORDER BY ${PARTITION_COLUMN}) AS JSON) AS "days"
FROM marked_days
GROUP BY "id"
HAVING COUNT(CASE WHEN ${countedAgain.join(' AND ')} THEN ${PARTITION_COLUMN} END) > CAST(0 AS BIGINT)
ORDER BY "id" ASC`;
}

/** Reads one result row of `compileDistantCopiesSql`. */
export function parseDistantCopiesRow(record: Readonly<Record<string, SqlCell>>): DistantCopies {
  const id = record.id ?? null;
  const cell = record.days ?? null;
  if (typeof id !== 'string') throw new TypeError(`column id: ${String(id)} is not a string`);
  const days: unknown = typeof cell === 'string' ? JSON.parse(cell) : null;
  if (!Array.isArray(days) || days.some((day) => typeof day !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(day)))
    throw new TypeError(`column days: ${String(cell)} is not a JSON array of days`);
  return { id, days: days as string[] };
}

/**
 * The view's rows for buckets in [from, to), in bucket then group order: the batch layer's SQL
 * (deduplicated, exact), read over only the days that hold those buckets. Finance exports run it.
 */
export function compileExportSql(view: ViewDefinition, from: number, to: number): string {
  const order = ['"bucket"', ...view.groupBy.map((field) => `${quoteIdentifier(field)} ASC NULLS LAST`)];
  return `SELECT * FROM (
${compileSql(view, { days: daysBetween(from, to) })}
) AS "exported"
WHERE "bucket" >= ${bigintLiteral(from)} AND "bucket" < ${bigintLiteral(to)}
ORDER BY ${order.join(', ')}`;
}

/**
 * The days as ranges of consecutive days: a backfill of years stays one short predicate (the SQL
 * travels in the state machine's payload), and Athena prunes date-projected partitions by range.
 */
export const dayRangesSql = (days: readonly string[]): string =>
  dayRangePredicate(consecutiveDayRanges(days));

/** A predicate on the partition column holding exactly the days of the ranges. */
export function dayRangePredicate(ranges: readonly DayRange[]): string {
  const merged = mergeDayRanges(ranges);
  if (merged.length === 0) return 'FALSE';
  const column = PARTITION_COLUMN;
  const predicates = merged.map(([first, last]) =>
    first === last
      ? `${column} = ${quoteString(first)}`
      : `${column} BETWEEN ${quoteString(first)} AND ${quoteString(last)}`,
  );
  return `(${predicates.join(' OR ')})`;
}

/** A result cell as an engine returns it: Athena gives text, DuckDB numbers and bigints. */
export type SqlCell = string | number | bigint | null;

function toBigint(cell: SqlCell, column: string): bigint {
  if (typeof cell === 'bigint') return cell;
  if (typeof cell === 'number' && Number.isSafeInteger(cell)) return BigInt(cell);
  if (typeof cell === 'string' && /^-?\d+$/.test(cell)) return BigInt(cell);
  throw new TypeError(`column ${column}: ${String(cell)} is not an integer`);
}

/** Reads one result row of `compileSql(view)` into a ViewRow. */
export function parseSqlRow(view: ViewDefinition, record: Readonly<Record<string, SqlCell>>): ViewRow {
  const bucketCell = record.bucket ?? null;
  if (bucketCell === null) throw new TypeError('column bucket is missing');
  const bucket = Number(toBigint(bucketCell, 'bucket'));
  const group = view.groupBy.map((field) => {
    const cell = record[field] ?? null;
    return (cell === null ? null : String(cell)) as GroupValue;
  });
  const values: Record<string, MeasureValue> = {};
  for (const name of Object.keys(view.measures)) {
    const cell = record[name] ?? null;
    values[name] = cell === null ? null : toBigint(cell, name);
  }
  return { bucket, group, values };
}
