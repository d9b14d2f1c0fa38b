import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogs, orderEvents } from '../../events';
import { DuckDbQueryEngine } from '../../functions/adapters/duckdb';
import {
  BUCKET_WIDTH_MS,
  compileJs,
  compileSql,
  dayOf,
  daysAffectedBy,
  type EventRecord,
  hasDistinctMeasure,
  serveByWatermark,
  type ViewDefinition,
  type ViewRow,
  ViewRows,
  WatermarkError,
} from '../../functions/core';
import { views } from '../../views';
import { arbOrderEvents, arbView, DAY_ZERO } from '../support/arbitraries';
import { jsAnswer, validEvents } from '../support/differential';
import { expectedSpeedRows } from '../support/speed-rows';

/** The demo's views over orders: the events drawn here are orders (a view counts its catalog's events only). */
const orderViews = views.filter((view) => view.events.name === orderEvents.name);

const RUNS = Math.max(100, Math.ceil(Number(process.env.DRIFTLESS_DIFF_RUNS ?? 500) / 2));

let engine: DuckDbQueryEngine;
beforeAll(async () => {
  engine = await DuckDbQueryEngine.open(catalogs);
});
afterAll(() => engine.close());

/** Events both layers see alike: valid, one per id (the speed layer does not deduplicate). */
const arbSharedEvents = arbOrderEvents({ invalid: false, duplicates: false, maxLength: 60 });

/**
 * Speed rows as DynamoDB holds them: one pre-aggregated delta per Lambda batch, added up; a view with a
 * distinct measure's as its items hold them.
 */
function speedRows(view: ViewDefinition, events: readonly EventRecord[], cuts: readonly number[]): ViewRow[] {
  if (hasDistinctMeasure(view)) return expectedSpeedRows(view, events);
  const compiled = compileJs(view);
  const bounds = [...new Set([0, ...cuts.map((cut) => cut % (events.length + 1)), events.length])].sort(
    (a, b) => a - b,
  );
  const rows: ViewRow[] = [];
  for (let index = 1; index < bounds.length; index++) {
    rows.push(...compiled.reduce(events.slice(bounds[index - 1], bounds[index])).sorted());
  }
  return rows;
}

const arbWatermark = (view: ViewDefinition): fc.Arbitrary<number> => {
  const width = BUCKET_WIDTH_MS[view.time.bucket];
  const buckets = (2 * 86_400_000) / width;
  return fc.integer({ min: -2, max: buckets + 2 }).map((index) => DAY_ZERO + index * width);
};

const arbCase = fc
  .tuple(
    fc.oneof(arbView, fc.constantFrom(...orderViews)),
    arbSharedEvents,
    fc.array(fc.nat(), { maxLength: 6 }),
  )
  .chain(([view, events, cuts]) =>
    arbWatermark(view).map((watermark) => ({ view, events, cuts, watermark })),
  );

/**
 * Events with re-sent copies on the same day, the days either side and further apart, delivered in
 * two waves: the batch layer computes the first wave's days, then the second wave (late events and
 * late copies) arrives and a second run recomputes only what it changed.
 */
const arbWaves = fc
  .tuple(
    fc.oneof(arbView, fc.constantFrom(...orderViews)),
    arbOrderEvents({ invalid: false, maxLength: 40 }),
    fc.array(fc.nat(), { maxLength: 6 }),
  )
  .chain(([view, raw, cuts]) => {
    // A copy moved past the catalog's time range is quarantined, never archived; the archive keeps its type.
    const events = validEvents(view.events, raw).map((event) => ({ ...event, type: view.events.name }));
    return fc
      .tuple(
        fc.array(fc.boolean(), { minLength: events.length, maxLength: events.length }),
        arbWatermark(view),
      )
      .map(([late, watermark]) => ({
        view,
        first: events.filter((_, index) => !late[index]),
        second: events.filter((_, index) => late[index]),
        cuts,
        watermark,
      }));
  });

const eventDays = (view: ViewDefinition, events: readonly EventRecord[]): string[] => [
  ...new Set(events.map((event) => dayOf(event[view.events.timeField] as number))),
];

/** What a run recomputes when these days received events: by default, each and the horizon after it. */
type RecomputedDays = (changedDays: readonly string[], horizonDays: number) => readonly string[];

/**
 * The batch view after two runs, as the manifest serves it: per day, the rows of the last run that
 * computed the day. Each run computes its days with the SQL on DuckDB over everything archived so far.
 */
async function batchAfterTwoRuns(
  view: ViewDefinition,
  first: readonly EventRecord[],
  second: readonly EventRecord[],
  recomputed: RecomputedDays,
): Promise<ViewRow[]> {
  const byDay = new Map<string, ViewRow[]>();
  const run = async (archived: readonly EventRecord[], days: readonly string[]) => {
    if (days.length === 0) return;
    await engine.useEvents(archived);
    const rows = await engine.runView(view, compileSql(view, { days }));
    for (const day of days) byDay.set(day, []);
    for (const row of rows) byDay.get(dayOf(row.bucket))?.push(row);
  };
  await run(first, eventDays(view, first));
  await run([...first, ...second], recomputed(eventDays(view, second), view.events.dedupeHorizonDays));
  return [...byDay.values()].flat();
}

/** Below W, each id's copies counted by the dedupe rule over all of them; from W, every copy (speed). */
function expectedServed(view: ViewDefinition, events: readonly EventRecord[], watermark: number): ViewRow[] {
  const batch = jsAnswer(view, events).filter((row) => row.bucket < watermark);
  const speed = (
    hasDistinctMeasure(view) ? expectedSpeedRows(view, events) : compileJs(view).reduce(events).sorted()
  ).filter((row) => row.bucket >= watermark);
  return [...new ViewRows(view).addAll(batch).sorted(), ...new ViewRows(view).addAll(speed).sorted()];
}

const servedAfterTwoRuns = (recomputed: RecomputedDays) =>
  fc.asyncProperty(arbWaves, async ({ view, first, second, cuts, watermark }) => {
    const all = [...first, ...second];
    const batch = await batchAfterTwoRuns(view, first, second, recomputed);
    const served = serveByWatermark(view, watermark, { batch, speed: speedRows(view, all, cuts) });
    return isDeepStrictEqual(
      served.map(({ source: _, ...row }) => row),
      expectedServed(view, all, watermark),
    );
  });

describe('serving merge', () => {
  it(`batch below W plus speed from W equals the exact answer, no bucket twice or missing (${RUNS} cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(arbCase, async ({ view, events, cuts, watermark }) => {
        // Prepare
        const exact = compileJs(view).reduce(events).sorted();
        await engine.useEvents(events);
        const batch = await engine.runView(view);
        const speed = speedRows(view, events, cuts);
        // Act
        const served = serveByWatermark(view, watermark, { batch, speed });
        // Assess: a distinct measure's speed rows are estimates, the rest exact
        const speedTruth = new ViewRows(view).addAll(speed).sorted();
        expect(served.map(({ source: _, ...row }) => row)).toEqual([
          ...exact.filter((row) => row.bucket < watermark),
          ...(hasDistinctMeasure(view) ? speedTruth : exact).filter((row) => row.bucket >= watermark),
        ]);
        for (const row of served) expect(row.source).toBe(row.bucket < watermark ? 'batch' : 'speed');
      }),
      { numRuns: RUNS },
    );
  }, 120_000);

  it(`with copies across days, a run recomputing the changed days and the horizon after them leaves batch rows equal to the rule over all copies (${RUNS} cases)`, async () => {
    // Act
    const result = await fc.check(servedAfterTwoRuns(daysAffectedBy), { numRuns: RUNS });
    // Assess
    expect(result.failed, fc.defaultReportMessage(result) ?? '').toBe(false);
  }, 120_000);

  it('catches a run that recomputes only the days that received events', async () => {
    // Act
    const result = await fc.check(
      servedAfterTwoRuns((changed) => changed),
      { numRuns: RUNS, endOnFailure: true },
    );
    // Assess: a late copy on day D must change D + 1 .. D + H too
    expect(result.failed).toBe(true);
  }, 120_000);

  it('refuses a watermark that is not a bucket boundary', () => {
    const [revenue] = views;
    expect(() =>
      serveByWatermark(revenue as ViewDefinition, DAY_ZERO + 60_000, { batch: [], speed: [] }),
    ).toThrow(WatermarkError);
  });
});
