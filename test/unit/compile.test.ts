import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import {
  and,
  bucketStart,
  compileExpr,
  compileJs,
  compileSql,
  count,
  dayRangesSql,
  defineView,
  type Expr,
  ExpressionOverflowError,
  fieldsOf,
  groupKey,
  max,
  min,
  not,
  or,
  parseSqlRow,
  sum,
  validitySql,
} from '../../functions/core';
import { revenue, views } from '../../views';
import { arbView } from '../support/arbitraries';

const order = fieldsOf(orderEvents);
const evaluate = (expr: { node: Expr }, event: Record<string, unknown>) =>
  compileExpr(revenue, expr.node)(event);

describe('JS expression semantics follow SQL', () => {
  const unknown = order.country.eq('US'); // NULL when country is missing
  const yes = order.amount.ge(0);
  const no = order.amount.lt(0);
  const event = { amount: 5 };

  it.each([
    ['NULL AND false is false', and(unknown, no), false],
    ['NULL AND true is NULL', and(unknown, yes), null],
    ['NULL OR true is true', or(unknown, yes), true],
    ['NULL OR false is NULL', or(unknown, no), null],
    ['NOT NULL is NULL', not(unknown), null],
    ['NULL IN (...) is NULL', order.country.in('US', 'FR'), null],
    ['IS NULL of a missing field is true', order.country.isNull(), true],
    ['arithmetic with NULL is NULL', order.amount.plus(order.discount), null],
  ])('%s', (_, expr, expected) => {
    expect(evaluate(expr, event)).toBe(expected);
  });

  it('fails on BIGINT overflow as Trino and DuckDB do', () => {
    const expr = order.amount.times(1_000_000_000);
    expect(() => evaluate(expr, { amount: 10_000_000_000 })).toThrow(ExpressionOverflowError);
  });
});

describe('JS reducer', () => {
  it('pre-aggregates a batch into one row per (bucket, group)', () => {
    const hour = Date.UTC(2026, 10, 25, 10);
    const events = Array.from({ length: 1_000 }, (_, index) => ({
      id: `o${index}`,
      ts: hour + index * 1_000,
      country: ['US', 'FR'][index % 2],
      amount: 100,
      status: 'paid',
    }));
    const rows = compileJs(revenue).reduce(events).sorted();
    expect(rows).toEqual([
      { bucket: hour, group: ['FR'], values: { revenue: 50_000n, orders: 500n } },
      { bucket: hour, group: ['US'], values: { revenue: 50_000n, orders: 500n } },
    ]);
  });

  it('keeps a null group apart from the string "null"', () => {
    expect(groupKey([null])).not.toBe(groupKey(['null']));
  });

  it('buckets with ts - ts % width, as the SQL does', () => {
    expect(bucketStart(Date.UTC(2026, 0, 1, 10, 59, 59, 999), 'hour')).toBe(Date.UTC(2026, 0, 1, 10));
    expect(bucketStart(Date.UTC(2026, 0, 1, 11), 'hour')).toBe(Date.UTC(2026, 0, 1, 11));
  });
});

describe('SQL text', () => {
  const stripStrings = (sql: string) => sql.replace(/'(?:[^']|'')*'/g, "''");

  it.each(views.map((view) => [view.name, view] as const))(
    '%s avoids what Trino and DuckDB disagree on: division, date functions, bare integer literals',
    (_, view) => {
      const sql = stripStrings(compileSql(view));
      expect(sql).not.toMatch(/\//);
      expect(sql).not.toMatch(/date_trunc|from_unixtime|epoch_ms|to_timestamp/i);
      const withoutAllowedNumbers = sql
        .replace(/CAST\(-?\d+ AS BIGINT\)|DECIMAL\(38, 0\)|"event_rank" = 1/g, '')
        .replace(/^(GROUP|ORDER) BY .*$/gm, '');
      expect(withoutAllowedNumbers).not.toMatch(/[^\w"]\d+[^\w"]/);
    },
  );

  it('states the catalog bounds in the validity predicate: its time range, and string lengths by length()', () => {
    // Act
    const predicate = validitySql(orderEvents);
    // Assess: length() counts code points in Trino and DuckDB alike, as the catalog does
    expect(predicate).toContain(
      `"ts" BETWEEN CAST(${Date.UTC(2000, 0, 1)} AS BIGINT) AND CAST(${Date.UTC(2100, 0, 1) - 1} AS BIGINT)`,
    );
    expect(predicate).toContain('length("id") <= CAST(64 AS BIGINT)');
    expect(predicate).toContain('("country" IS NULL OR (length("country") <= CAST(16 AS BIGINT)))');
  });

  it('sums every sum measure as DECIMAL(38, 0), which Trino needs past 2^63 and DuckDB does not show', () => {
    fc.assert(
      fc.property(arbView, (view) => {
        const sums = Object.values(view.measures).filter((measure) => measure.kind === 'sum').length;
        const sql = compileSql(view);
        expect(sql.match(/SUM\(CAST\(/g)?.length ?? 0).toBe(sums);
        expect(sql.match(/AS DECIMAL\(38, 0\)\)\) AS "m\d+"/g)?.length ?? 0).toBe(sums);
        expect(sql).not.toMatch(/SUM\((?!CAST)/);
      }),
    );
  });

  it('writes AS before every output alias', () => {
    const sql = compileSql(revenue);
    expect(sql).toContain('AS "bucket"');
    expect(sql).toContain('AS "country"');
    expect(sql).toContain('AS "revenue"');
    expect(sql).toContain('AS "orders"');
  });

  it('escapes quotes in string literals', () => {
    const view = defineView(orderEvents, {
      name: 'quoted',
      version: 1,
      where: order.customer.eq("o'brien"),
      bucket: 'day',
      measures: { orders: count() },
    });
    expect(compileSql(view)).toContain("(\"customer\" = 'o''brien')");
  });

  it('reads Athena text cells into exact rows', () => {
    const view = defineView(orderEvents, {
      name: 'spread',
      version: 1,
      bucket: 'hour',
      groupBy: ['country'],
      measures: { total: sum(order.amount), low: min(order.amount), high: max(order.amount) },
    });
    const row = parseSqlRow(view, {
      bucket: '1795600800000',
      country: null,
      total: '123456789012345678901234567890',
      low: '-5',
      high: null,
    });
    expect(row).toEqual({
      bucket: 1_795_600_800_000,
      group: [null],
      values: { total: 123456789012345678901234567890n, low: -5n, high: null },
    });
  });
});

describe('day filter', () => {
  it('reads the planned days as ranges of consecutive days', () => {
    expect(
      dayRangesSql(['2026-11-03', '2026-11-01', '2026-11-02', '2026-11-05', '2026-12-31', '2027-01-01']),
    ).toBe(
      "(dt BETWEEN '2026-11-01' AND '2026-11-03' OR dt = '2026-11-05' OR dt BETWEEN '2026-12-31' AND '2027-01-01')",
    );
    expect(dayRangesSql([])).toBe('FALSE');
  });

  it('keeps a backfill of three years to one predicate', () => {
    const days = Array.from({ length: 1_096 }, (_, index) =>
      new Date(Date.UTC(2024, 0, 1) + index * 86_400_000).toISOString().slice(0, 10),
    );
    expect(dayRangesSql(days)).toBe("(dt BETWEEN '2024-01-01' AND '2026-12-31')");
  });
});
