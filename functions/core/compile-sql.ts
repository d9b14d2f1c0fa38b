import type { EventCatalog } from './catalog';
import { dedupeOrderFields } from './compile-js';
import type { Expr } from './expr';
import { BUCKET_WIDTH_MS, dayOf, type GroupValue } from './keys';
import type { MeasureValue } from './monoid';
import type { ViewRow } from './rows';
import type { ViewDefinition } from './view';

/**
 * The batch layer's compilation of a view: one SQL text that runs unchanged on Athena (Trino) and
 * on DuckDB. It keeps to their common subset: quoted identifiers, `AS` before every alias, BIGINT
 * literals by CAST (a bare literal is a 32-bit INTEGER in Trino), no `/`, bucket by `%`, and sums
 * as DECIMAL(38,0) so that neither engine overflows where the other would not.
 */

/** The relation both engines read: the Glue table in AWS, a DuckDB view over the local archive. */
export const RAW_EVENTS = 'raw_events';

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
  /** Relation holding the raw events. @default raw_events */
  readonly relation?: string;
  /**
   * Only these event-time days (partitions): what bounds the bytes a run scans. Copies of an event
   * are deduplicated within the days read; producer duplicates share `ts`, hence the day.
   * @default every day
   */
  readonly days?: readonly string[];
}

export function compileSql(view: ViewDefinition, options: SqlOptions = {}): string {
  const catalog = view.events;
  const relation = options.relation ?? RAW_EVENTS;
  const columns = Object.keys(catalog.fields).map(quoteIdentifier).join(', ');
  const id = quoteIdentifier(catalog.idField);
  const ts = quoteIdentifier(view.time.field);
  const dedupeOrder = dedupeOrderFields(catalog)
    .map((field) => `${quoteIdentifier(field)} ASC NULLS LAST`)
    .join(', ');
  const bucket = `(${ts} - (${ts} % ${bigintLiteral(BUCKET_WIDTH_MS[view.time.bucket])}))`;
  const groups = view.groupBy.map(quoteIdentifier);
  const measures = Object.entries(view.measures).map(([name, measure]) => {
    const alias = quoteIdentifier(name);
    if (measure.kind === 'count') return `COUNT(*) AS ${alias}`;
    const value = exprToSql(measure.expr);
    if (measure.kind === 'sum') return `SUM(CAST(${value} AS DECIMAL(38, 0))) AS ${alias}`;
    return `${measure.kind.toUpperCase()}(${value}) AS ${alias}`;
  });
  const ordinals = [1, ...groups.map((_, index) => index + 2)];
  const days = options.days;
  if (days?.some((day) => !/^\d{4}-\d{2}-\d{2}$/.test(day)))
    throw new RangeError(`bad day in ${days.join(', ')}`);
  const partitions = days === undefined ? '' : `${dayRangesSql(days)}\n    AND `;
  return `WITH valid_events AS (
  SELECT ${columns}
  FROM ${relation}
  WHERE ${partitions}${validitySql(catalog)}
),
ranked_events AS (
  SELECT ${columns}, row_number() OVER (PARTITION BY ${id} ORDER BY ${dedupeOrder}) AS "event_rank"
  FROM valid_events
),
deduplicated_events AS (
  SELECT ${columns} FROM ranked_events WHERE "event_rank" = 1
)
SELECT
  ${[`${bucket} AS "bucket"`, ...groups.map((group) => `${group} AS ${group}`), ...measures].join(',\n  ')}
FROM deduplicated_events
WHERE ${view.where === null ? 'TRUE' : exprToSql(view.where)}
GROUP BY ${ordinals.join(', ')}
ORDER BY ${ordinals.map((ordinal) => `${ordinal} ASC NULLS LAST`).join(', ')}`;
}

const nextDay = (day: string): string =>
  new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

/** Every UTC day from the one holding `from` to the one holding `to - 1`. */
export function daysBetween(from: number, to: number): string[] {
  const days: string[] = [];
  const width = BUCKET_WIDTH_MS.day;
  for (let start = from - (from % width); start < to; start += width) days.push(dayOf(start));
  return days;
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
export function dayRangesSql(days: readonly string[]): string {
  const sorted = [...new Set(days)].sort();
  const ranges: [string, string][] = [];
  for (const day of sorted) {
    const last = ranges.at(-1);
    if (last !== undefined && nextDay(last[1]) === day) last[1] = day;
    else ranges.push([day, day]);
  }
  if (ranges.length === 0) return 'FALSE';
  const column = PARTITION_COLUMN;
  const predicates = ranges.map(([first, last]) =>
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
