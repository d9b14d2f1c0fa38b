import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketStart, compileJs, type ViewDefinition } from '../../functions/core';
import { views } from '../../views';
import { batchRunThroughApi } from '../support/batch-runs';
import { startTestRuntime, type TestRuntime } from '../support/runtime';
import { waitFor } from '../support/wait';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * The local pipeline with `settle: auto`, learned from 90% of the events (few events make a test: the
 * default 99.9% would need thousands), between 2 and 30 minutes.
 */
let env: TestRuntime;
let posted = 0;
beforeAll(async () => {
  env = await startTestRuntime('lateness', {
    settleMs: 'auto',
    stage: { settleShare: 0.9, settleMinMinutes: 2, settleMaxMinutes: 30 },
  });
});
afterAll(() => env?.stop());

interface Order {
  type: 'order';
  id: string;
  ts: number;
  country: string;
  amount: number;
  status: 'paid' | 'pending';
}

/** `count` orders with event times `lateMs` before now, posted now: they arrive `lateMs` late. */
function ordersLate(prefix: string, count: number, lateMs: number, status: Order['status']): Order[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, index) => ({
    type: 'order',
    id: `${prefix}-${index}`,
    ts: now - lateMs,
    country: 'US',
    amount: 100,
    status,
  }));
}

/** Posts the orders and waits until the speed layer has counted them. */
async function arrive(orders: readonly Order[]) {
  const answer = await env.call('POST', '/events', orders);
  expect(answer.status).toBe(202);
  posted += orders.length;
  await waitFor(() => env.runtime.speedConsumer.stats.records >= posted || undefined, {
    timeoutMs: 20_000,
    what: 'the speed layer counting the posted events',
  });
}

async function batchRun(): Promise<Record<string, number>> {
  const run = await batchRunThroughApi(env.call);
  return Object.fromEntries(
    run.views.map((view: { view: string; watermark: number }) => [view.view, view.watermark]),
  );
}

async function viewsByName() {
  const answer = await env.call('GET', '/views');
  expect(answer.status).toBe(200);
  return Object.fromEntries(answer.body.views.map((view: { name: string }) => [view.name, view]));
}

/** Which of the test's orders each view counts (revenue and unique_customers only paid ones). */
const counts = (view: ViewDefinition, order: Order) => compileJs(view).matches({ ...order });
/** The views over orders: the test sends no page views. */
const orderViews = views.filter((view) => view.events.name === 'order');

describe('lateness learned from arrivals', () => {
  let recent: Order[];
  let stragglers: Order[];

  it('reports per view the lateness of the events it counts and the share that arrived after their bucket was exact', async () => {
    // Prepare: a first run before any arrival learns nothing, so it settles at the maximum, 30 minutes.
    const firstWatermarks = await batchRun();
    recent = [
      ...ordersLate('recent-paid', 80, 3 * MINUTE, 'paid'),
      ...ordersLate('recent-pending', 10, 3 * MINUTE, 'pending'),
    ];
    stragglers = [
      ...ordersLate('straggler-paid', 6, 40 * MINUTE, 'paid'),
      ...ordersLate('straggler-pending', 4, 40 * MINUTE, 'pending'),
    ];

    // Act
    await arrive([...recent, ...stragglers]);
    const answered = await viewsByName();

    // Assess: 3 minutes late is under the 5-minute bin edge, 40 minutes under the hour's. An event whose
    // bucket was below its view's watermark, arriving after the run that committed it started, is late
    // after exact.
    for (const view of orderViews) {
      const counted = [...recent, ...stragglers].filter((order) => counts(view, order));
      const watermark = firstWatermarks[view.name] as number;
      const lateAfterExact = counted.filter(
        (order) => bucketStart(order.ts, view.time.bucket) < watermark,
      ).length;
      expect(answered[view.name].lateness, view.name).toEqual({
        windowDays: 7,
        events: counted.length,
        p50Ms: 5 * MINUTE,
        p99Ms: HOUR,
        p999Ms: HOUR,
        lateAfterExact,
        lateAfterExactShare: lateAfterExact / counted.length,
      });
      // At least 90% of each view's events (revenue 80 of 86, orders_per_minute 90 of 100) arrived within 5 minutes.
      expect(answered[view.name].settle, view.name).toEqual({ mode: 'auto', ms: 5 * MINUTE });
    }
    // The minute view's stragglers fell below its watermark (30 minutes back): each is restated by the next run.
    expect(answered.orders_per_minute.lateness.lateAfterExact).toBe(10);
  });

  it("moves a run's watermark to the learned settle time, and bounds it by the maximum", async () => {
    // Act: a run learns 5 minutes from the arrivals so far.
    const before = Date.now();
    const learned = await batchRun();
    const after = Date.now();

    // Assess: W is the minute bucket holding (the run's start less 5 minutes), the archive near now.
    const watermark = learned.orders_per_minute as number;
    expect(watermark).toBeLessThanOrEqual(bucketStart(after - 5 * MINUTE, 'minute'));
    expect(watermark).toBeGreaterThanOrEqual(bucketStart(before - 5 * MINUTE, 'minute') - MINUTE);

    // Act: 20 more stragglers: now a quarter of the events arrived 40 minutes late, and 90% needs an hour.
    await arrive(ordersLate('more-stragglers', 20, 40 * MINUTE, 'paid'));
    const answered = await viewsByName();
    const bounded = await batchRun();

    // Assess: the settle time is cut to the 30-minute maximum, and W, never moving back, stays.
    for (const view of views) expect(answered[view.name].settle).toEqual({ mode: 'auto', ms: 30 * MINUTE });
    expect(bounded.orders_per_minute).toBe(watermark);
  });
});
