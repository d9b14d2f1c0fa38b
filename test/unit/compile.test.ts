import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import {
  and,
  bucketStart,
  compileDistantCopiesSql,
  compileJs,
  compileSql,
  count,
  dayRangesSql,
  daysAffectedBy,
  dedupeReadRanges,
  deduplicateEvents,
  defineView,
  type Expr,
  ExpressionOverflowError,
  fieldsOf,
  max,
  min,
  not,
  or,
  parseDistantCopiesRow,
  parseSqlRow,
  sum,
} from '../../functions/core';
import { compileExpr } from '../../functions/core/compile-js';
import { validitySql } from '../../functions/core/compile-sql';
import { groupKey } from '../../functions/core/keys';
import { revenue, views } from '../../views';
import { arbView, orderEventsWithHorizon } from '../support/arbitraries';

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

  const twoRanges = {
    dayRanges: [
      ['2026-11-03', '2026-11-04'],
      ['2026-11-10', '2026-11-10'],
    ],
  } as const;
  const texts = [
    ...views.flatMap((view) => [
      [`${view.name} over every day`, compileSql(view)],
      [`${view.name} over two day ranges`, compileSql(view, twoRanges)],
    ]),
    ['the distant-copies report', compileDistantCopiesSql(orderEvents, twoRanges)],
  ];

  it.each(texts)(
    '%s avoids what Trino and DuckDB disagree on: division, date functions, bare integer literals',
    (_, text) => {
      const sql = stripStrings(text);
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

  it.each(texts)('%s writes AS before every alias it names', (_, text) => {
    // Every quoted name after a closing parenthesis or an expression is an alias: AS comes first.
    expect(stripStrings(text)).not.toMatch(/\)\s+"[a-z_]+"/);
    expect(stripStrings(text)).not.toMatch(/"[a-z_]+"\s+"[a-z_]+"/);
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

  it('reads the dedupe horizon before each computed range, and outputs the computed days only', () => {
    // Act
    const sql = compileSql(revenue, {
      dayRanges: [
        ['2026-11-03', '2026-11-04'],
        ['2026-11-10', '2026-11-10'],
      ],
    });
    // Assess: read in valid_events, output in deduplicated_events
    expect(sql).toContain(
      "WHERE (dt BETWEEN '2026-11-02' AND '2026-11-04' OR dt BETWEEN '2026-11-09' AND '2026-11-10')\n",
    );
    expect(sql).toContain(
      `WHERE "event_rank" = 1 AND "recent_copies" = CAST(0 AS BIGINT) AND (dt BETWEEN '2026-11-03' AND '2026-11-04' OR dt = '2026-11-10')`,
    );
  });

  it('merges ranges that the horizon makes touch, and crosses month and year ends', () => {
    // Prepare
    const weekly = { ...revenue, events: orderEventsWithHorizon(3) };
    // Act
    const read = dedupeReadRanges(
      [
        ['2027-01-02', '2027-01-02'],
        ['2026-12-28', '2026-12-29'],
        ['2027-03-01', '2027-03-01'],
      ],
      3,
    );
    const sql = compileSql(weekly, { days: ['2027-01-02', '2026-12-28', '2026-12-29'] });
    // Assess
    expect(read).toEqual([
      ['2026-12-25', '2027-01-02'],
      ['2027-02-26', '2027-03-01'],
    ]);
    expect(sql).toContain("WHERE (dt BETWEEN '2026-12-25' AND '2027-01-02')\n");
  });

  it('gives the same SQL for the days as for their ranges', () => {
    expect(compileSql(revenue, { days: ['2026-11-04', '2026-11-03', '2026-11-10'] })).toBe(
      compileSql(revenue, {
        dayRanges: [
          ['2026-11-10', '2026-11-10'],
          ['2026-11-03', '2026-11-04'],
        ],
      }),
    );
  });

  it('grows with the number of ranges, never with the days they hold', () => {
    // Prepare: 32 ranges (a plan's most) of a year each, against 32 single days
    const ranges = (length: number) =>
      Array.from({ length: 32 }, (_, index): [string, string] => [
        `${2030 + index * 2}-01-01`,
        `${2030 + index * 2}-${length === 1 ? '01-01' : '12-31'}`,
      ]);
    // Act
    const years = compileSql(revenue, { dayRanges: ranges(365) });
    const days = compileSql(revenue, { dayRanges: ranges(1) });
    // Assess: BETWEEN adds a constant per range; far below Athena's 262,144 bytes
    expect(Buffer.byteLength(years)).toBeLessThan(Buffer.byteLength(days) + 32 * 2 * 40);
    expect(Buffer.byteLength(years)).toBeLessThan(16_384);
  });

  it.each([
    [0, null],
    [1, 'RANGE BETWEEN CAST(86400000 AS BIGINT) PRECEDING AND CAST(86400000 AS BIGINT) PRECEDING'],
    [3, 'RANGE BETWEEN CAST(259200000 AS BIGINT) PRECEDING AND CAST(86400000 AS BIGINT) PRECEDING'],
  ])('looks %i days back for copies of an id', (horizon, frame) => {
    // Act
    const sql = compileSql({ ...revenue, events: orderEventsWithHorizon(horizon) });
    // Assess: a copy counts unless one lies on the horizon's days before its own
    if (frame === null) expect(sql).not.toContain('recent_copies');
    else expect(sql).toContain(`${frame}) AS "recent_copies"`);
    expect(sql).toContain('row_number() OVER (PARTITION BY "id", "event_day" ORDER BY "ts" ASC NULLS LAST');
  });

  it('refuses days and day ranges together, and a malformed day', () => {
    expect(() => compileSql(revenue, { days: ['2026-11-03'], dayRanges: [] })).toThrow(/not both/);
    expect(() => compileSql(revenue, { days: ['2026-11-3'] })).toThrow(RangeError);
    expect(() => compileSql(revenue, { days: ['2026-02-30'] })).toThrow(RangeError);
  });
});

describe('the dedupe rule', () => {
  const at = (day: number, hour: number) => Date.UTC(2026, 10, 25 + day, hour);
  const copy = (ts: number, amount = 100) => ({ id: 'x', ts, amount, status: 'paid' });

  it.each([
    ['the same day', [at(0, 1), at(0, 23)], [at(0, 1)]],
    ['the horizon apart', [at(0, 23), at(2, 0)], [at(0, 23)]],
    ['further apart than the horizon', [at(0, 1), at(3, 0)], [at(0, 1), at(3, 0)]],
    [
      'a chain each within the horizon of the one before',
      [at(0, 1), at(2, 1), at(4, 1), at(6, 1)],
      [at(0, 1)],
    ],
  ])('with a horizon of 2 days, counts copies on %s as the rule says', (_, times, counted) => {
    // Prepare
    const view = { events: orderEventsWithHorizon(2) };
    // Act
    const kept = deduplicateEvents(
      view,
      times.toReversed().map((ts) => copy(ts)),
    );
    // Assess
    expect(kept.map((event) => event.ts as number).sort((a, b) => a - b)).toEqual(counted);
  });

  it('keeps the first copy of the day by time, then by the other fields', () => {
    const kept = deduplicateEvents(revenue, [copy(at(0, 2), 5), copy(at(0, 1), 9), copy(at(0, 1), 7)]);
    expect(kept).toEqual([copy(at(0, 1), 7)]);
  });

  it.each([
    [0, ['2026-12-31', '2027-01-02'], ['2026-12-31', '2027-01-02']],
    [1, ['2026-12-31', '2027-01-02'], ['2026-12-31', '2027-01-01', '2027-01-02', '2027-01-03']],
    [2, ['2027-02-27'], ['2027-02-27', '2027-02-28', '2027-03-01']],
    [1, [], []],
  ])('with a horizon of %i days, a change to %j affects %j', (horizon, changed, affected) => {
    expect(daysAffectedBy(changed, horizon)).toEqual(affected);
  });
});

describe('the distant-copies report', () => {
  it('reads a row as Athena and DuckDB return it: the days as JSON text', () => {
    expect(parseDistantCopiesRow({ id: 'o1', days: '["2026-11-25","2026-11-28"]' })).toEqual({
      id: 'o1',
      days: ['2026-11-25', '2026-11-28'],
    });
    expect(() => parseDistantCopiesRow({ id: 'o1', days: '[1]' })).toThrow(TypeError);
  });

  it('reads the same days as the view SQL and lists ids counted again on a computed day', () => {
    // Act
    const sql = compileDistantCopiesSql(orderEvents, { days: ['2026-11-03'] });
    // Assess
    expect(sql).toContain("WHERE (dt BETWEEN '2026-11-02' AND '2026-11-03')\n");
    expect(sql).toContain(
      `HAVING COUNT(CASE WHEN (dt = '2026-11-03') AND "recent_days" = CAST(0 AS BIGINT) AND "earlier_days" > CAST(0 AS BIGINT) THEN dt END) > CAST(0 AS BIGINT)`,
    );
  });
});
