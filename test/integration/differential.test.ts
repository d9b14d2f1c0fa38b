import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderEvents, pageViewEvents } from '../../events';
import { DuckDbQueryEngine } from '../../functions/adapters/duckdb';
import {
  type CompiledView,
  compileDistantCopiesSql,
  compileJs,
  compileSql,
  type DayRange,
  dedupeReadRanges,
  eventsTableOf,
  parseDistantCopiesRow,
  type SqlOptions,
  type ViewDefinition,
  type ViewRow,
  ViewRows,
} from '../../functions/core';
import { dayRangePredicate } from '../../functions/core/compile-sql';
import { dayNumberOfTime } from '../../functions/core/days';
import { distantCopies } from '../../functions/core/dedupe';
import {
  arbCatalogView,
  arbComputedDays,
  arbHorizon,
  arbMixedEvents,
  arbOrderEvents,
  DIFFERENTIAL_CATALOGS as catalogs,
  maxLengthOf,
  orderEventsWithHorizon,
  TIME_RANGE,
} from '../support/arbitraries';
import {
  batchReadable,
  type Compilers,
  compareCompilations,
  realCompilers,
  validEvents,
} from '../support/differential';

/** Cases per run: 500 by default; DRIFTLESS_DIFF_RUNS=10000 for a long run. */
const RUNS = Number(process.env.DRIFTLESS_DIFF_RUNS ?? 500);
const SEED =
  process.env.DRIFTLESS_DIFF_SEED === undefined ? undefined : Number(process.env.DRIFTLESS_DIFF_SEED);
const TIMEOUT_MS = 60_000 + RUNS * 200;

let engine: DuckDbQueryEngine;
beforeAll(async () => {
  engine = await DuckDbQueryEngine.open(catalogs);
});
afterAll(() => engine.close());

/** How often the generated cases reach the situations the differential test must cover. */
const coverage = {
  nonEmpty: 0,
  emptyResult: 0,
  nullMeasure: 0,
  negativeValue: 0,
  zeroValue: 0,
  pastTwoPow53: 0,
  nullGroup: 0,
  duplicateIds: 0,
  invalidEvents: 0,
  onBoundary: 0,
  atTimeBound: 0,
  pastTimeBound: 0,
  atMaxLength: 0,
  pastMaxLength: 0,
  loneSurrogate: 0,
  copiesOnOneDay: 0,
  copiesWithinHorizon: 0,
  copiesBeyondHorizon: 0,
  chainBeyondHorizon: 0,
  noHorizon: 0,
  someDaysComputed: 0,
  orderView: 0,
  pageViewView: 0,
  visitView: 0,
  /**
   * Events typed as another catalog than the view's that would be valid in the view's catalog: what
   * counts in the view if another catalog's events leak into it.
   */
  otherCatalogEvents: 0,
  /** An id held by events of two catalogs. */
  idsSharedAcrossCatalogs: 0,
  /** Events of no catalog: an unknown, missing or non-string type. */
  strayEvents: 0,
};

/** How the valid copies of each id spread over days: what the dedupe rule decides on. */
function recordCopyCoverage(view: ViewDefinition, valid: readonly Record<string, unknown>[]) {
  const horizon = view.events.dedupeHorizonDays;
  const copies = Map.groupBy(valid, (event) => event.id);
  const idDays = [...copies.values()].map((events) => ({
    times: new Set(events.map((event) => event.ts)),
    days: [...new Set(events.map((event) => dayNumberOfTime(event.ts as number)))].sort((a, b) => a - b),
  }));
  if (idDays.some(({ times, days }) => days.length === 1 && times.size > 1)) coverage.copiesOnOneDay++;
  const gaps = idDays.map(({ days }) => days.slice(1).map((day, index) => day - (days[index] as number)));
  if (gaps.some((steps) => steps.some((step) => step <= horizon))) coverage.copiesWithinHorizon++;
  if (gaps.some((steps) => steps.some((step) => step > horizon))) coverage.copiesBeyondHorizon++;
  // Counted once although its first and last copies lie further apart than the horizon.
  if (
    gaps.some(
      (steps) =>
        steps.length > 1 && steps.every((step) => step <= horizon) && steps.reduce((a, b) => a + b) > horizon,
    )
  )
    coverage.chainBeyondHorizon++;
  if (horizon === 0) coverage.noHorizon++;
}

/** Strings of a field at (0) or past (1) its maximum length, in code points. */
const pastMax = (event: Record<string, unknown>, by: number) =>
  ['id', 'customer', 'country', 'product'].some(
    (field) =>
      typeof event[field] === 'string' && [...(event[field] as string)].length === maxLengthOf(field) + by,
  );

function recordCoverage(
  view: ViewDefinition,
  events: readonly Record<string, unknown>[],
  rows: readonly ViewRow[],
  days: readonly DayRange[] | undefined,
) {
  const values = rows.flatMap((row) => Object.values(row.values));
  const ids = events.map((event) => event.id);
  const width = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[view.time.bucket];
  if (rows.length > 0) coverage.nonEmpty++;
  else coverage.emptyResult++;
  if (values.includes(null)) coverage.nullMeasure++;
  if (values.some((value) => value !== null && value < 0n)) coverage.negativeValue++;
  if (values.includes(0n)) coverage.zeroValue++;
  if (values.some((value) => value !== null && (value > 2n ** 53n || value < -(2n ** 53n))))
    coverage.pastTwoPow53++;
  if (rows.some((row) => row.group.includes(null))) coverage.nullGroup++;
  if (new Set(ids).size < ids.length) coverage.duplicateIds++;
  if (events.some((event) => !catalogs.parse(event).ok)) coverage.invalidEvents++;
  if (events.some((event) => typeof event.ts === 'number' && event.ts % width === 0)) coverage.onBoundary++;
  const valid = validEvents(view.events, events);
  if (view.events.name === orderEvents.name) coverage.orderView++;
  else if (view.events.name === pageViewEvents.name) coverage.pageViewView++;
  else coverage.visitView++;
  if (
    events.some((event) => {
      const typed = catalogs.catalogOf(event);
      return typed.ok && typed.catalog.name !== view.events.name && view.events.parse(event).ok;
    })
  )
    coverage.otherCatalogEvents++;
  const typesOfId = Map.groupBy(
    events.filter((event) => catalogs.catalogOf(event).ok),
    (event) => event.id,
  );
  if ([...typesOfId.values()].some((typed) => new Set(typed.map((event) => event.type)).size > 1))
    coverage.idsSharedAcrossCatalogs++;
  if (events.some((event) => !catalogs.catalogOf(event).ok)) coverage.strayEvents++;
  recordCopyCoverage(view, valid);
  if (days !== undefined) coverage.someDaysComputed++;
  if (valid.some((event) => event.ts === TIME_RANGE.from || event.ts === TIME_RANGE.to - 1))
    coverage.atTimeBound++;
  if (events.some((event) => event.ts === TIME_RANGE.from - 1 || event.ts === TIME_RANGE.to))
    coverage.pastTimeBound++;
  if (valid.some((event) => pastMax(event, 0))) coverage.atMaxLength++;
  if (events.some((event) => pastMax(event, 1))) coverage.pastMaxLength++;
  if (
    events.some((event) =>
      Object.values(event).some((value) => typeof value === 'string' && !value.isWellFormed()),
    )
  )
    coverage.loneSurrogate++;
}

/**
 * Random views over any of the three catalogs, over random events of the three mixed (and of none), ids
 * shared across them, computed over every day or over a random subset of days.
 */
const agreement = (compilers: Compilers, track = false) =>
  fc.asyncProperty(
    arbCatalogView,
    arbMixedEvents({ illFormed: true }),
    arbComputedDays,
    async (view, events, days) => {
      const comparison = await compareCompilations(engine, view, events, compilers, days);
      if (track) recordCoverage(view, events, comparison.js, days);
      return comparison.agree;
    },
  );

describe('differential: the JS reducer and the SQL on DuckDB', () => {
  it(
    `give identical rows for random views over random events (${RUNS} cases)`,
    async () => {
      // Prepare
      const started = performance.now();
      // Act
      const result = await fc.check(agreement(realCompilers, true), { numRuns: RUNS, seed: SEED });
      // Assess
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.log(`differential: ${result.numRuns} cases in ${seconds} s (seed ${result.seed})`, coverage);
      if (result.failed) {
        const [view, events, days] = result.counterexample ?? [];
        const comparison = await compareCompilations(
          engine,
          view as ViewDefinition,
          events ?? [],
          realCompilers,
          days,
        );
        const sql = compileSql(view as ViewDefinition, days === undefined ? {} : { dayRanges: days });
        expect.soft(comparison.sql, `SQL:\n${sql}`).toEqual(comparison.js);
      }
      expect(result.failed, fc.defaultReportMessage(result) ?? '').toBe(false);
      expect(result.numRuns).toBe(RUNS);
      // The generators must keep reaching every situation the issue lists, or the test has gone weak.
      for (const [situation, cases] of Object.entries(coverage)) {
        expect(cases, `cases with ${situation}`).toBeGreaterThanOrEqual(Math.ceil(RUNS / 100));
      }
    },
    TIMEOUT_MS,
  );
});

/** A JS compilation whose sums start from 0 instead of SQL's NULL. */
const zeroSums = (view: ViewDefinition): CompiledView => {
  const compiled = compileJs(view);
  return {
    ...compiled,
    reduce(events, into) {
      const rows = compiled.reduce(events);
      const fixed = (into ?? new ViewRows(view)).addAll(
        rows.sorted().map((row) => ({
          ...row,
          values: Object.fromEntries(
            Object.entries(row.values).map(([name, value]) => [
              name,
              view.measures[name]?.kind === 'sum' ? (value ?? 0n) : value,
            ]),
          ),
        })),
      );
      return fixed;
    },
  };
};

/** A compilation of the SQL whose text is edited: the edit sees the real SQL and the options. */
const editedSql =
  (edit: (sql: string, view: ViewDefinition, options: SqlOptions) => string): Compilers['sql'] =>
  (view, options = {}) =>
    edit(compileSql(view, options), view, options);

const brokenCompilers: [string, Compilers][] = [
  [
    'drops the where clause',
    { js: compileJs, sql: (view, options) => compileSql({ ...view, where: null }, options) },
  ],
  [
    'keeps every duplicate id',
    { js: compileJs, sql: editedSql((sql) => sql.replace('"event_rank" = 1', '"event_rank" >= 1')) },
  ],
  [
    'deduplicates within a day only',
    { js: compileJs, sql: editedSql((sql) => sql.replace(' AND "recent_copies" = CAST(0 AS BIGINT)', '')) },
  ],
  [
    'counts a copy whose id has a copy exactly the horizon before it',
    {
      js: compileJs,
      sql: editedSql((sql, view) => {
        const horizon = view.events.dedupeHorizonDays;
        return sql.replace(
          `RANGE BETWEEN CAST(${horizon * 86_400_000} AS BIGINT) PRECEDING`,
          `RANGE BETWEEN CAST(${Math.max(0, horizon - 1) * 86_400_000} AS BIGINT) PRECEDING`,
        );
      }),
    },
  ],
  [
    'reads only the days it computes, not the horizon before them',
    {
      js: compileJs,
      sql: editedSql((sql, view, { dayRanges }) =>
        dayRanges === undefined
          ? sql
          : sql.replace(
              dayRangePredicate(dedupeReadRanges(dayRanges, view.events.dedupeHorizonDays)),
              dayRangePredicate(dayRanges),
            ),
      ),
    },
  ],
  [
    'outputs the rows of the days it reads for context',
    {
      js: compileJs,
      sql: editedSql((sql, _, { dayRanges }) =>
        dayRanges === undefined ? sql : sql.replace(` AND ${dayRangePredicate(dayRanges)}\n)`, '\n)'),
      ),
    },
  ],
  [
    'ignores the validity rules',
    {
      js: compileJs,
      // Reading more days than needed changes nothing: only the validity rules go.
      sql: editedSql((sql) => sql.replace(/FROM (events_[a-z_]+)\n {2}WHERE [\s\S]*?\n\),/, 'FROM $1\n),')),
    },
  ],
  [
    "reads another catalog's table",
    {
      js: compileJs,
      sql: (view, options) =>
        compileSql(view, {
          ...options,
          relation: eventsTableOf(view.events.name === orderEvents.name ? pageViewEvents : orderEvents),
        }),
    },
  ],
  [
    "reads every catalog's table, as one",
    {
      js: compileJs,
      sql: (view, options) =>
        compileSql(view, {
          ...options,
          // Columns matched by name: a catalog lacking one reads it as NULL.
          relation: `(${catalogs.all
            .map((catalog) => `SELECT * FROM ${eventsTableOf(catalog)}`)
            .join(' UNION ALL BY NAME ')}) AS every_event`,
        }),
    },
  ],
  [
    'puts events on a boundary into the previous bucket',
    {
      js: compileJs,
      sql: editedSql((sql) =>
        sql.replace(
          /\("ts" - \("ts" % (CAST\(\d+ AS BIGINT\))\)\) AS "bucket"/,
          '(("ts" - 1) - (("ts" - 1) % $1)) AS "bucket"',
        ),
      ),
    },
  ],
  ['sums nothing to 0 instead of NULL', { js: zeroSums, sql: compileSql }],
  [
    'counts every value of a distinct measure, repeats included',
    { js: compileJs, sql: editedSql((sql) => sql.replaceAll('COUNT(DISTINCT ', 'COUNT(')) },
  ],
  [
    'ignores the time range',
    {
      js: compileJs,
      sql: editedSql((sql) => sql.replace(/"ts" BETWEEN CAST\(\d+/, '"ts" BETWEEN CAST(0')),
    },
  ],
  [
    'lets one character past a maximum length through',
    {
      js: compileJs,
      sql: editedSql((sql) =>
        sql.replace(
          /(length\("[a-z_]+"\) <= CAST\()(\d+)/g,
          (_, head: string, length: string) => `${head}${Number(length) + 1}`,
        ),
      ),
    },
  ],
  [
    'keeps a different copy of an id when copies tie on time',
    {
      js: compileJs,
      sql: editedSql((sql) =>
        sql.replace('ORDER BY "ts" ASC NULLS LAST, ', 'ORDER BY "ts" ASC NULLS LAST, "amount" DESC, '),
      ),
    },
  ],
];

describe('differential: the checker catches a broken compiler', () => {
  it.each(brokenCompilers)(
    'reports a mismatch for a compiler that %s',
    async (_, compilers) => {
      // Act
      const result = await fc.check(agreement(compilers), { numRuns: RUNS, seed: SEED });
      // Assess
      expect(result.failed).toBe(true);
      console.log(`broken compiler caught after ${result.numRuns} cases`);
    },
    TIMEOUT_MS,
  );
});

describe('differential: the distant-copies report', () => {
  it(
    `lists the ids the JS reference counts more than once, over the days a run reads (${RUNS} cases)`,
    async () => {
      let casesListing = 0;
      await fc.assert(
        fc.asyncProperty(
          arbHorizon,
          arbOrderEvents({ illFormed: true }),
          arbComputedDays,
          async (horizon, events, days) => {
            // Prepare
            const catalog = orderEventsWithHorizon(horizon);
            const expected = distantCopies(catalog, validEvents(catalog, events), days);
            await engine.useEvents(batchReadable({ events: catalog }, events));
            // Act
            const sql = compileDistantCopiesSql(catalog, days === undefined ? {} : { dayRanges: days });
            const listed = (await engine.query(sql)).map(parseDistantCopiesRow);
            // Assess
            expect(listed, sql).toEqual(expected);
            if (expected.length > 0) casesListing++;
          },
        ),
        { numRuns: RUNS, seed: SEED },
      );
      expect(casesListing, 'cases listing an id').toBeGreaterThanOrEqual(Math.ceil(RUNS / 100));
    },
    TIMEOUT_MS,
  );
});
