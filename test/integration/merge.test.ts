import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import { DuckDbQueryEngine } from '../../functions/adapters/duckdb';
import {
  BUCKET_WIDTH_MS,
  compileJs,
  type EventRecord,
  serveByWatermark,
  type ViewDefinition,
  type ViewRow,
  WatermarkError,
} from '../../functions/core';
import { views } from '../../views';
import { arbOrderEvents, arbView, DAY_ZERO } from '../support/arbitraries';

const RUNS = Math.max(100, Math.ceil(Number(process.env.DRIFTLESS_DIFF_RUNS ?? 500) / 2));

let engine: DuckDbQueryEngine;
beforeAll(async () => {
  engine = await DuckDbQueryEngine.open(orderEvents);
});
afterAll(() => engine.close());

/** Events both layers see alike: valid, one per id (the speed layer does not deduplicate). */
const arbSharedEvents = arbOrderEvents({ invalid: false, duplicates: false, maxLength: 60 });

/** Speed rows as DynamoDB holds them: one pre-aggregated delta per Lambda batch, added up. */
function speedRows(view: ViewDefinition, events: readonly EventRecord[], cuts: readonly number[]): ViewRow[] {
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

const arbCase = fc
  .tuple(fc.oneof(arbView, fc.constantFrom(...views)), arbSharedEvents, fc.array(fc.nat(), { maxLength: 6 }))
  .chain(([view, events, cuts]) => {
    const width = BUCKET_WIDTH_MS[view.time.bucket];
    const buckets = (2 * 86_400_000) / width;
    return fc
      .integer({ min: -2, max: buckets + 2 })
      .map((index) => ({ view, events, cuts, watermark: DAY_ZERO + index * width }));
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
        // Assess
        expect(served.map(({ source: _, ...row }) => row)).toEqual(exact);
        for (const row of served) expect(row.source).toBe(row.bucket < watermark ? 'batch' : 'speed');
      }),
      { numRuns: RUNS },
    );
  }, 120_000);

  it('refuses a watermark that is not a bucket boundary', () => {
    const [revenue] = views;
    expect(() =>
      serveByWatermark(revenue as ViewDefinition, DAY_ZERO + 60_000, { batch: [], speed: [] }),
    ).toThrow(WatermarkError);
  });
});
