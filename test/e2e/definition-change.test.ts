import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { type OrderEvent, orderEvents } from '../../events';
import {
  BUCKET_WIDTH_MS,
  bucketStart,
  coalesce,
  count,
  defineView,
  fieldsOf,
  sum,
  type ViewDefinition,
} from '../../functions/core';
import { batchRunThroughApi } from '../support/batch-runs';
import type { TestRuntime } from '../support/runtime';
import { waitFor } from '../support/wait';

const MINUTE = BUCKET_WIDTH_MS.minute;
const HOUR = BUCKET_WIDTH_MS.hour;
const order = fieldsOf(orderEvents);
/** The stage's switch margin in this test: short, the restart has no rollover (the default is 180 s). */
const MARGIN_MS = 5_000;

/** Paid revenue per minute with the bug: discounts ignored. */
const revenueV1 = defineView(orderEvents, {
  name: 'paid_revenue',
  version: 1,
  where: order.status.eq('paid'),
  bucket: 'minute',
  groupBy: ['country'],
  measures: { revenue: sum(order.amount), orders: count() },
});

/** The fix, made once in the definition: revenue net of discounts, and the discounts beside it. */
const revenueV2 = defineView(orderEvents, {
  name: 'paid_revenue',
  version: 2,
  where: order.status.eq('paid'),
  bucket: 'minute',
  groupBy: ['country'],
  measures: {
    revenue: sum(order.amount.minus(coalesce(order.discount, 0))),
    orders: count(),
    discounts: sum(coalesce(order.discount, 0)),
  },
});

/** What each version answers over every event posted: plain arithmetic, apart from the views' compilers. */
function totalsOf(version: 1 | 2, events: readonly OrderEvent[]): Record<string, number> {
  const paid = events.filter((event) => event.status === 'paid');
  const amounts = paid.reduce((total, event) => total + event.amount, 0);
  const discounts = paid.reduce((total, event) => total + (event.discount ?? 0), 0);
  return version === 1
    ? { revenue: amounts, orders: paid.length }
    : { revenue: amounts - discounts, orders: paid.length, discounts };
}

const COUNTRIES = ['US', 'DE', 'FR', 'JP'];
const STATUSES = ['paid', 'paid', 'paid', 'refunded', 'pending'] as const;

/** `n` orders timed by `timeOf`, about half of them discounted. */
const ordersOf = (prefix: string, n: number, timeOf: (index: number) => number): OrderEvent[] =>
  Array.from({ length: n }, (_, index) => ({
    // Sent with its type; the catalog's parse leaves it out of what a view reads.
    type: 'order',
    id: `${prefix}-${index}`,
    ts: timeOf(index),
    country: COUNTRIES[index % COUNTRIES.length] as string,
    amount: 1_000 + ((index * 37) % 900),
    ...(index % 2 === 0 ? { discount: (index * 13) % 300 } : {}),
    status: STATUSES[index % STATUSES.length] as OrderEvent['status'],
  }));

/**
 * The local runtime running `view` as its one view. The handlers import `views.ts` statically, as a
 * deployed bundle does: a new definition is a new import of the runtime with `views.ts` replaced, the
 * way a deploy replaces the code, over the same data folder.
 */
async function runtimeWith(view: ViewDefinition, dataDir?: string): Promise<TestRuntime> {
  vi.resetModules();
  vi.doMock('../../views', () => ({ views: [view] }));
  const { startTestRuntime } = await import('../support/runtime');
  return startTestRuntime('definition-change', {
    ...(dataDir === undefined ? {} : { dataDir }),
    // The watermark trails now by a minute: the first run after the restart has its watermark at or
    // before the minute of the last orders only v1 counted, whenever it starts within that minute's
    // reach, so a switch at it (without the rule) would lose them, deterministically.
    settleMs: MINUTE,
    stage: { definitionSwitchMarginSeconds: MARGIN_MS / 1_000 },
  });
}

interface SeriesTotals {
  readonly version: number;
  readonly totals: Record<string, number>;
}

let env: TestRuntime | undefined;
let from = 0;
let to = 0;

/** The series over every event's minute, summed over buckets and groups, per measure. */
async function seriesTotals(runtime: TestRuntime): Promise<SeriesTotals> {
  const answer = await runtime.call('GET', `/views/paid_revenue/series?from=${from}&to=${to}`);
  expect(answer.status).toBe(200);
  const totals: Record<string, number> = {};
  for (const bucket of answer.body.buckets as { groups: { values: Record<string, number | string> }[] }[])
    for (const group of bucket.groups)
      for (const [measure, value] of Object.entries(group.values))
        totals[measure] = (totals[measure] ?? 0) + Number(value ?? 0);
  return { version: answer.body.version as number, totals };
}

/** Waits until the series answers `version` over `events`; on a time-out, says what it answered. */
async function servedTotals(
  runtime: TestRuntime,
  version: 1 | 2,
  events: readonly OrderEvent[],
  what: string,
): Promise<void> {
  const expected = { version, totals: totalsOf(version, events) };
  await waitFor(
    async () => {
      expect(await seriesTotals(runtime)).toEqual(expected);
      return true;
    },
    { timeoutMs: 30_000, what },
  );
}

/** Starts a batch run through the API and waits for it; its outcome for the view. */
async function batchRun(runtime: TestRuntime): Promise<Record<string, unknown>> {
  const run = await batchRunThroughApi(runtime.call);
  return (run.views as { view: string; outcome: Record<string, unknown> }[])[0]?.outcome ?? {};
}

/** The totals of each version over each prefix of `events`: an answer is exact if it is one of them. */
const prefixTotals = (version: 1 | 2, events: readonly OrderEvent[], from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, index) => totalsOf(version, events.slice(0, from + index)));

describe('a definition change never serves a hole', { timeout: 240_000 }, () => {
  afterAll(async () => {
    await env?.stop();
    // The restarted runtime was given the first one's folder: it is the test's to remove.
    if (env !== undefined) await rm(env.runtime.dataDir, { recursive: true, force: true });
    vi.doUnmock('../../views');
  });

  it('answers wholly with the old definition until the new one switches, then wholly with the new one', async () => {
    // Prepare: v1 runs: three hours of history and orders timed now, counted by speed, committed by a run
    const first = await runtimeWith(revenueV1);
    env = first;
    const start = Date.now();
    from = bucketStart(start - 4 * HOUR, 'hour');
    to = bucketStart(start, 'minute') + 10 * MINUTE;
    const justBefore = ordersOf('just-before', 40, () => start);
    const history = [
      ...ordersOf('history', 300, (index) => start - 3 * HOUR + index * 36_000),
      ...justBefore,
    ];
    expect((await first.call('POST', '/events', history)).status).toBe(202);
    await servedTotals(first, 1, history, 'the speed layer to count the history');
    expect(await batchRun(first)).toMatchObject({ status: 'committed' });
    const dataDir = first.runtime.dataDir;
    await first.runtime.stop();
    // Act: the fix deployed over the same data; more orders, timed now
    const second = await runtimeWith(revenueV2, dataDir);
    env = second;
    // Not a hole from the first answer on: v1, whole, before the new code counted anything
    expect(await seriesTotals(second)).toEqual({ version: 1, totals: totalsOf(1, history) });
    const recent = ordersOf('recent', 100, (index) => Date.now() - 5_000 + index * 10);
    const all = [...history, ...recent];
    expect((await second.call('POST', '/events', recent)).status).toBe(202);
    // The speed layer counts the served v1 beside v2: v1 answers hold the new orders too
    await servedTotals(second, 1, all, 'the speed layer to count the new orders in v1');
    const pending = await second.call('GET', '/views');
    expect(pending.body.views[0]).toMatchObject({
      version: 1,
      measures: { revenue: 'sum', orders: 'count' },
      pending: { version: 2, countingSince: expect.any(Number), switchFrom: expect.any(Number) },
      servingProblem: null,
    });
    const { countingSince, switchFrom, speedRetentionEndsAt } = pending.body.views[0].pending as {
      countingSince: number;
      switchFrom: number;
      speedRetentionEndsAt: number;
    };
    expect(switchFrom).toBe(bucketStart(countingSince + MARGIN_MS + MINUTE - 1, 'minute'));
    expect(speedRetentionEndsAt).toBeGreaterThan(Date.now() + HOUR);
    // The first run after the restart comes within a minute of the orders only v1 counted: its watermark
    // is at or before their minute, where v2's speed items lack them (a switch there would lose them).
    expect(Date.now() - start).toBeLessThan(MINUTE);
    // Clients query continuously while one posts an order at a time and batch runs go on until the switch:
    // each answer must be one version's totals over the orders posted up to some moment between the last
    // order seen before the query started and the last one posted before it ended.
    const posted: OrderEvent[] = [...all];
    let seenThrough = posted.length;
    let querying = true;
    const answers: { answer: SeriesTotals; seenBefore: number; postedAfter: number }[][] = [];
    const clients = Array.from({ length: 3 }, async (_, client) => {
      const seen: (typeof answers)[number] = [];
      answers[client] = seen;
      while (querying || seen.at(-1)?.answer.version !== 2) {
        const seenBefore = seenThrough;
        const answer = await seriesTotals(second);
        seen.push({ answer, seenBefore, postedAfter: posted.length });
      }
    });
    const poster = (async () => {
      for (let index = 0; querying; index++) {
        const [next] = ordersOf(`during-${index}`, 1, () => Date.now());
        posted.push(next as OrderEvent);
        expect((await second.call('POST', '/events', [next])).status).toBe(202);
        // Seen once an answer holds it (whichever version answers): the next one follows it.
        await waitFor(
          async () => {
            const answer = await seriesTotals(second);
            return (
              JSON.stringify(answer.totals) === JSON.stringify(totalsOf(answer.version as 1 | 2, posted))
            );
          },
          { timeoutMs: 30_000, what: `order during-${index} counted` },
        );
        seenThrough = posted.length;
      }
    })();
    const outcomes: Record<string, unknown>[] = [];
    while (outcomes.at(-1)?.status !== 'committed') {
      const outcome = await batchRun(second);
      outcomes.push(outcome);
      if (outcome.status !== 'committed') await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(outcomes.length, 'runs before the switch').toBeLessThan(60);
    }
    querying = false;
    await Promise.all([...clients, poster]);
    // Assess: each answer wholly v1's or wholly v2's, over the orders of some moment of its query;
    // v1 before the switch, v2 after
    let checked = 0;
    for (const seen of answers) {
      for (const { answer, seenBefore, postedAfter } of seen) {
        const version = answer.version as 1 | 2;
        expect(prefixTotals(version, posted, seenBefore, postedAfter), `a v${version} answer`).toContainEqual(
          answer.totals,
        );
        checked++;
      }
      const firstV2 = seen.findIndex(({ answer }) => answer.version === 2);
      expect(firstV2).toBeGreaterThan(0);
      expect(seen.slice(firstV2).every(({ answer }) => answer.version === 2)).toBe(true);
    }
    expect(checked).toBeGreaterThan(10);
    expect(posted.length - all.length, 'orders posted while clients queried').toBeGreaterThan(3);
    // The first run after the restart would have switched at a watermark at or before the minute of the
    // orders only v1 counted; it, and every run until switchFrom, waited, saying why
    const firstWaited = outcomes[0]?.awaitingSpeed as { watermark: number } | undefined;
    expect(firstWaited?.watermark).toBeLessThanOrEqual(bucketStart(start, 'minute'));
    for (const outcome of outcomes.slice(0, -1))
      expect(outcome).toMatchObject({
        status: 'backfilling',
        awaitingSpeed: {
          countingSince,
          switchFrom,
          reason: expect.stringContaining('speed layer counts v2'),
        },
      });
    expect(outcomes.length).toBeGreaterThan(1);
    expect(outcomes.at(-1)?.watermark).toBeGreaterThanOrEqual(switchFrom);
    const switched = await second.call('GET', '/views');
    expect(switched.body.views[0]).toMatchObject({ version: 2, pending: null });
  });
});
