import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import { DuckDbQueryEngine } from '../../functions/adapters/duckdb';
import {
  type CompiledView,
  compileJs,
  compileSql,
  type ViewDefinition,
  type ViewRow,
  ViewRows,
} from '../../functions/core';
import { arbOrderEvents, arbView, maxLengthOf, TIME_RANGE } from '../support/arbitraries';
import { type Compilers, compareCompilations, realCompilers } from '../support/differential';

/** Cases per run: 500 by default; DRIFTLESS_DIFF_RUNS=10000 for a long run. */
const RUNS = Number(process.env.DRIFTLESS_DIFF_RUNS ?? 500);
const SEED =
  process.env.DRIFTLESS_DIFF_SEED === undefined ? undefined : Number(process.env.DRIFTLESS_DIFF_SEED);
const TIMEOUT_MS = 60_000 + RUNS * 200;

let engine: DuckDbQueryEngine;
beforeAll(async () => {
  engine = await DuckDbQueryEngine.open(orderEvents);
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
};

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
  if (events.some((event) => !orderEvents.parse(event).ok)) coverage.invalidEvents++;
  if (events.some((event) => typeof event.ts === 'number' && event.ts % width === 0)) coverage.onBoundary++;
  const valid = events.filter((event) => orderEvents.parse(event).ok);
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

const agreement = (compilers: Compilers, track = false) =>
  fc.asyncProperty(arbView, arbOrderEvents({ illFormed: true }), async (view, events) => {
    const comparison = await compareCompilations(engine, view, events, compilers);
    if (track) recordCoverage(view, events, comparison.js);
    return comparison.agree;
  });

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
        const [view, events] = result.counterexample ?? [];
        const comparison = await compareCompilations(engine, view as ViewDefinition, events ?? []);
        expect.soft(comparison.sql, `SQL:\n${compileSql(view as ViewDefinition)}`).toEqual(comparison.js);
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

const brokenCompilers: [string, Compilers][] = [
  ['drops the where clause', { js: compileJs, sql: (view) => compileSql({ ...view, where: null }) }],
  [
    'keeps every duplicate id',
    { js: compileJs, sql: (view) => compileSql(view).replace('"event_rank" = 1', '"event_rank" >= 1') },
  ],
  [
    'ignores the validity rules',
    {
      js: compileJs,
      sql: (view) =>
        compileSql(view).replace(/FROM raw_events\n {2}WHERE [\s\S]*?\n\),/, 'FROM raw_events\n),'),
    },
  ],
  [
    'puts events on a boundary into the previous bucket',
    {
      js: compileJs,
      sql: (view) => compileSql(view).replace('("ts" - ("ts" %', '(("ts" - 1) - (("ts" - 1) %'),
    },
  ],
  ['sums nothing to 0 instead of NULL', { js: zeroSums, sql: compileSql }],
  [
    'ignores the time range',
    {
      js: compileJs,
      sql: (view) => compileSql(view).replace(/"ts" BETWEEN CAST\(\d+/, '"ts" BETWEEN CAST(0'),
    },
  ],
  [
    'lets one character past a maximum length through',
    {
      js: compileJs,
      sql: (view) =>
        compileSql(view).replace(
          /(length\("[a-z_]+"\) <= CAST\()(\d+)/g,
          (_, head: string, length: string) => `${head}${Number(length) + 1}`,
        ),
    },
  ],
  [
    'keeps a different copy of an id when copies tie on time',
    {
      js: compileJs,
      sql: (view) =>
        compileSql(view).replace(
          'ORDER BY "ts" ASC NULLS LAST, ',
          'ORDER BY "ts" ASC NULLS LAST, "amount" DESC, ',
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
