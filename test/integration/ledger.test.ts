import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import type { Restatements } from '../../functions/adapters/batch-store/restatements';
import {
  type DynamoBatchStore,
  type LedgerRun,
  type Manifest,
  ManifestConflictError,
  type Restatement,
} from '../../functions/adapters/dynamo-batch-store';
import { Table } from '../../functions/adapters/table';
import { cleanup } from '../../functions/batch/cleanup';
import { type CommitInput, commit } from '../../functions/batch/commit';
import type { BatchDeps } from '../../functions/batch/deps';
import { DAYS_READ_AT_ONCE } from '../../functions/batch/ledger';
import { RollbackRefusedError, rollback } from '../../functions/batch/rollback';
import { BATCH_METRICS } from '../../functions/commons/metrics';
import {
  caseWhen,
  count,
  dayOf,
  defineView,
  fieldsOf,
  sum,
  type ViewDefinition,
  type ViewRow,
} from '../../functions/core';
import { definitionKey } from '../../functions/core/keys';
import { revenue } from '../../views';
import { batchRunThroughApi } from '../support/batch-runs';
import { type Order, runBatch, settledNowTemplate, startBatchStack } from '../support/batch-stack';
import { sentOrders } from '../support/events';
import { startFixture } from '../support/fixture';
import { startTestRuntime, type TestRuntime } from '../support/runtime';
import { waitFor } from '../support/wait';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const now = Date.now();
const today = now - (now % DAY);
/** A day a month back: in a closed month's exact history whatever today is. */
const monthBack = today - 31 * DAY;

let fixture: Awaited<ReturnType<typeof startFixture>>;
beforeAll(async () => {
  fixture = await startFixture();
});
afterAll(() => fixture?.close());

const closes: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closes.splice(0).map((close) => close()));
});

/** Paid orders over three days a month back, a few an hour, in three countries. */
const monthOrders: Order[] = Array.from({ length: 72 }, (_, index) => ({
  id: `m${index}`,
  ts: monthBack + index * HOUR + 60_000,
  country: ['US', 'FR', 'DE'][index % 3] as string,
  amount: 1_000 + index,
  status: 'paid',
}));
/** An order of the closed month that arrives after it was computed: in an hour that has US orders. */
const lateOrder: Order = {
  id: 'late',
  ts: monthBack + 3 * HOUR + 5,
  country: 'US',
  amount: 777,
  status: 'paid',
};
const lateHour = monthBack + 3 * HOUR;

const template = settledNowTemplate;

/** The batch stack (`startBatchStack`) with the stage's rollback retention (7 days), no grace. */
async function setUp(views: readonly ViewDefinition[] = [revenue]) {
  const stack = await startBatchStack(fixture, template, { name: 'ledger', views, deps: { graceMs: 0 } });
  closes.push(stack.close);
  return { deps: stack.deps, send: stack.send, table: new Table(fixture.dynamo, stack.table) };
}

/** What readers are served below the watermark: the manifest and its rows. */
async function served(deps: BatchDeps, view: ViewDefinition = revenue) {
  const manifest = (await deps.store.getManifest(view.name)) as Manifest;
  const rows: ViewRow[] = await deps.store.readRows(view, manifest, 0, manifest.watermark);
  return { manifest, rows };
}

const rollbackDeps = (deps: BatchDeps, store: DynamoBatchStore = deps.store) => ({ ...deps, store });

/** Every ledger entry of the view, all pages. */
async function ledger(deps: BatchDeps, view = 'revenue'): Promise<Restatement[]> {
  const entries: Restatement[] = [];
  let cursor: string | null = null;
  do {
    const page = await deps.store.restatements.list(view, 0, {
      limit: 3,
      ...(cursor === null ? {} : { cursor }),
    });
    entries.push(...page.restatements);
    cursor = page.cursor;
  } while (cursor !== null);
  return entries;
}

/** A first run over the month, then the late order and a second run: the state most tests start from. */
async function lateRestated() {
  const env = await setUp();
  await env.send(monthOrders);
  await runBatch(env.deps);
  const first = await served(env.deps);
  await env.send([lateOrder]);
  await runBatch(env.deps);
  const second = await served(env.deps);
  return { ...env, first, second };
}

const usOrdersBefore = monthOrders.filter((order) => order.ts >= lateHour && order.ts < lateHour + HOUR);

describe('restatement ledger: what each commit changed', () => {
  it('lists a closed month restated by a late event: its bucket, group and measures, old -> new, the run and the cause', async () => {
    // Prepare, act: a month computed, then an order of it arrives late and the next run commits
    const { deps, first, second } = await lateRestated();
    // Assess
    const revenueBefore = usOrdersBefore.reduce((total, order) => total + order.amount, 0);
    const day = new Date(lateHour).toISOString().slice(0, 10);
    const common = {
      view: 'revenue',
      bucket: lateHour,
      group: { country: 'US' },
      runId: second.manifest.lastRunId,
      revision: second.manifest.revision,
      batchVersion: second.manifest.lastRunId,
      previousBatchVersion: first.manifest.days[day],
      cause: 'late-events',
      at: second.manifest.committedAt,
    };
    expect(await ledger(deps)).toEqual([
      { ...common, measure: 'orders', old: usOrdersBefore.length, new: usOrdersBefore.length + 1 },
      { ...common, measure: 'revenue', old: revenueBefore, new: revenueBefore + lateOrder.amount },
    ]);
    // The run's outcome counts them; the first run (nothing served before it) restated nothing.
    const outcome = await deps.store.runOutcome(second.manifest.lastRunId);
    expect(outcome?.views).toEqual([expect.objectContaining({ status: 'committed', restatements: 2 })]);
    const firstOutcome = await deps.store.runOutcome(first.manifest.lastRunId);
    expect(firstOutcome?.views).toEqual([expect.objectContaining({ restatements: 0 })]);
    // Listing since a later time, or outside the bucket range, finds none.
    expect(
      (await deps.store.restatements.list('revenue', second.manifest.committedAt + 1)).restatements,
    ).toEqual([]);
    const outside = await deps.store.restatements.list('revenue', 0, { from: lateHour + HOUR, to: now });
    expect(outside.restatements).toEqual([]);
    // The manifest records the hash of the definition its rows were computed with.
    expect(second.manifest.definitionHash).toMatch(/^[0-9a-f]{64}$/);
    // The change's header: complete, with the watermark's move.
    expect(await deps.store.restatements.runs('revenue', 0)).toEqual([
      {
        view: 'revenue',
        runId: second.manifest.lastRunId,
        revision: 2,
        previousRevision: 1,
        at: second.manifest.committedAt,
        cause: 'late-events',
        watermark: { before: first.manifest.watermark, after: second.manifest.watermark },
        complete: true,
        // The last day whose version changed (the run recomputed the days that received archive objects).
        throughDay: Object.keys(second.manifest.days)
          .filter((changed) => second.manifest.days[changed] !== first.manifest.days[changed])
          .sort()
          .at(-1),
        entries: 2,
      },
    ]);
  });

  it('names a backfill the cause when the run was asked to recompute the view', async () => {
    const env = await setUp();
    await env.send(monthOrders);
    await runBatch(env.deps);
    await env.send([lateOrder]);
    // Act
    await runBatch(env.deps, { input: { backfill: ['revenue'] } });
    // Assess
    const entries = await ledger(env.deps);
    expect(entries.map(({ bucket, measure, cause }) => ({ bucket, measure, cause }))).toEqual([
      { bucket: lateHour, measure: 'orders', cause: 'backfill' },
      { bucket: lateHour, measure: 'revenue', cause: 'backfill' },
    ]);
  });

  it('records nothing for a run that changed no exact value', async () => {
    const env = await setUp();
    await env.send(monthOrders);
    await runBatch(env.deps);
    await runBatch(env.deps);
    expect(await ledger(env.deps)).toEqual([]);
  });
});

describe('restatement ledger: a commit that crashes', () => {
  it('leaves readers on the old whole version when it crashes between the history write and the manifest write; the retried step commits and records once', async () => {
    // Prepare
    const env = await setUp();
    await env.send(monthOrders);
    await runBatch(env.deps);
    const before = await served(env.deps);
    await env.send([lateOrder]);
    const crashing = Object.create(env.deps.store) as DynamoBatchStore;
    crashing.commitManifest = async () => {
      throw new Error('injected: the commit step died before its manifest write');
    };
    let commitInput: CommitInput | undefined;
    // Act
    await expect(
      runBatch(
        { ...env.deps, store: crashing },
        {
          onTask: (state, input) => {
            if (state === 'Commit') commitInput = input as CommitInput;
          },
        },
      ),
    ).rejects.toThrow();
    // Assess: the history holds what readers are still served, whole
    expect(await served(env.deps)).toEqual(before);
    expect((await env.deps.store.manifestHistory.get('revenue', 1))?.manifest).toEqual(before.manifest);
    expect(await ledger(env.deps)).toEqual([]);
    // Its header is written, but its write never happened: not listed.
    expect(await env.deps.store.restatements.runs('revenue', 0)).toEqual([]);
    // The step, retried, commits; retried again (after its write), it finds its own and rewrites the same entries.
    await commit(env.deps, commitInput as CommitInput);
    const after = await served(env.deps);
    expect(after.manifest.revision).toBe(2);
    const entries = await ledger(env.deps);
    expect(entries).toHaveLength(2);
    await commit(env.deps, commitInput as CommitInput);
    expect(await ledger(env.deps)).toEqual(entries);
    expect(await served(env.deps)).toEqual(after);
    // The retried step takes its first attempt's commit time: the header written before the crash is its own.
    expect(await env.deps.store.restatements.runStates('revenue', 0)).toEqual([
      {
        run: expect.objectContaining({
          revision: 2,
          at: after.manifest.committedAt,
          complete: true,
          entries: 2,
        }),
        state: 'served',
      },
    ]);
  });
});

/** The store with some of its ledger's calls replaced (each replacement calls the original to go on). */
function withLedger(
  store: DynamoBatchStore,
  overrides: Partial<Pick<Restatements, 'begin' | 'recordDay'>>,
): DynamoBatchStore {
  const restatements = Object.assign(Object.create(store.restatements), overrides) as Restatements;
  const wrapped = Object.create(store) as DynamoBatchStore;
  Object.defineProperty(wrapped, 'restatements', { value: restatements });
  return wrapped;
}

const SPREAD_DAYS = 20;
const spreadStart = today - 40 * DAY;
/** Two US orders at 05:00 on each of 20 days. */
const spreadOrders: Order[] = Array.from({ length: SPREAD_DAYS * 2 }, (_, index) => ({
  id: `s${index}`,
  ts: spreadStart + Math.floor(index / 2) * DAY + 5 * HOUR + (index % 2) * 60_000,
  country: 'US',
  amount: 100 + index,
  status: 'paid',
}));
/** A late order in each of those hours: the next run restates 20 days, two values each. */
const spreadLate: Order[] = Array.from({ length: SPREAD_DAYS }, (_, day) => ({
  id: `late-s${day}`,
  ts: spreadStart + day * DAY + 5 * HOUR + 30_000,
  country: 'US',
  amount: 7,
  status: 'paid',
}));
const spreadDay = (day: number) => new Date(spreadStart + day * DAY).toISOString().slice(0, 10);
/** What the late orders restate: per day, orders 2 -> 3 and revenue +7. */
const spreadRestated = Array.from({ length: SPREAD_DAYS }, (_, day) => {
  const revenueBefore = 200 + 4 * day + 1;
  return [
    { bucket: spreadStart + day * DAY + 5 * HOUR, measure: 'orders', old: 2, new: 3 },
    {
      bucket: spreadStart + day * DAY + 5 * HOUR,
      measure: 'revenue',
      old: revenueBefore,
      new: revenueBefore + 7,
    },
  ];
}).flat();
const valuesOf = (entries: readonly Restatement[]) =>
  entries.map(({ bucket, measure, old, new: next }) => ({ bucket, measure, old, new: next }));

describe('restatement ledger: a large change, recorded day by day', () => {
  it('writes each day as it is diffed, a few days read at once; a crash midway is listed incomplete, and clean-up completes it once', async () => {
    // Prepare: 20 days computed, then a late order in each
    const env = await setUp();
    await env.send(spreadOrders);
    await runBatch(env.deps);
    await env.send(spreadLate);
    const calls: ('read' | 'write')[] = [];
    const store = withLedger(env.deps.store, {
      recordDay: async (...args) => {
        calls.push('write');
        if (calls.filter((call) => call === 'write').length === 10)
          throw new Error('injected: the commit step died recording its ledger');
        return env.deps.store.restatements.recordDay(...args);
      },
    });
    store.readDayRows = async (...args) => {
      calls.push('read');
      return env.deps.store.readDayRows(...args);
    };
    const runId = 'run-spread';
    // What the ledger says once Commit is done, before the run's clean-up goes on with it.
    let beforeCleanUp: LedgerRun[] = [];
    // Act: the commit flips the manifest, then dies in the second few days of its diff
    await runBatch(
      { ...env.deps, store },
      {
        input: { runId },
        aroundStep: async (state, step) => {
          if (state === 'CleanUp') beforeCleanUp = await env.deps.store.restatements.runs('revenue', 0);
          return step();
        },
      },
    );
    // Assess: the first days were written before the later ones were read (two versions a day)
    expect(calls.indexOf('write')).toBe(2 * DAYS_READ_AT_ONCE);
    expect(calls.filter((call) => call === 'read').length).toBeGreaterThan(2 * DAYS_READ_AT_ONCE);
    expect((await env.deps.store.runOutcome(runId))?.views).toEqual([
      expect.objectContaining({ status: 'committed', restatements: null }),
    ]);
    expect(beforeCleanUp).toEqual([
      expect.objectContaining({
        runId,
        revision: 2,
        complete: false,
        throughDay: spreadDay(DAYS_READ_AT_ONCE - 1),
        entries: 2 * DAYS_READ_AT_ONCE,
      }),
    ]);
    // The run's clean-up went on from the two manifests the history keeps, and recorded each value once.
    expect(valuesOf(await ledger(env.deps))).toEqual(spreadRestated);
    expect(await env.deps.store.restatements.runs('revenue', 0)).toEqual([
      expect.objectContaining({ complete: true, entries: 40 }),
    ]);
  });

  it('stops at its time budget and says how far it came; clean-up keeps the manifests it diffs past the retention and completes it', async () => {
    const env = await setUp();
    await env.send(spreadOrders);
    await runBatch(env.deps);
    await env.send(spreadLate);
    // Act: a commit step with no time for its ledger
    const runId = 'run-no-time';
    await runBatch({ ...env.deps, ledgerBudgetMs: 0 }, { input: { runId } });
    // Assess
    expect(await env.deps.store.restatements.runs('revenue', 0)).toEqual([
      expect.objectContaining({ runId, complete: false, throughDay: '', entries: 0 }),
    ]);
    // A clean-up past the retention with no time either: the history the diff needs stays.
    const later = () => Date.now() + 8 * DAY;
    expect(await cleanup({ ...env.deps, now: later, ledgerBudgetMs: 0 })).toMatchObject({
      ledgerIncomplete: 1,
      manifestsForgotten: 0,
    });
    // With time, it completes the recording, then forgets the history past the retention.
    expect(await cleanup({ ...env.deps, now: later })).toMatchObject({
      ledgerCompleted: 1,
      manifestsForgotten: 1,
    });
    expect(valuesOf(await ledger(env.deps))).toEqual(spreadRestated);
    // A listing reads a bounded number of ledger items per page, and goes on from its cursor.
    const pages: Restatement[][] = [];
    let cursor: string | null = null;
    do {
      const page = await env.deps.store.restatements.list('revenue', 0, {
        maxItems: 3,
        ...(cursor === null ? {} : { cursor }),
      });
      pages.push(page.restatements);
      cursor = page.cursor;
    } while (cursor !== null);
    expect(pages[0]).toHaveLength(6);
    expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(SPREAD_DAYS / 3));
    expect(valuesOf(pages.flat())).toEqual(spreadRestated);
    // Only the buckets asked for, across pages.
    const fifthDay = spreadStart + 4 * DAY;
    const ranged = await env.deps.store.restatements.list('revenue', 0, {
      from: fifthDay,
      to: fifthDay + DAY,
    });
    expect(valuesOf(ranged.restatements)).toEqual(spreadRestated.slice(8, 10));
  });

  it('abandons a recording whose diffed manifest is gone: listed as abandoned with why, no longer incomplete, and published', async () => {
    // Prepare: a commit with no time for its ledger, then the manifest it replaced is no longer kept
    const env = await setUp();
    await env.send(spreadOrders);
    await runBatch(env.deps);
    await env.send(spreadLate);
    await runBatch({ ...env.deps, ledgerBudgetMs: 0 }, { input: { runId: 'run-orphaned' } });
    await env.deps.store.manifestHistory.delete('revenue', [1]);
    const published: [string, number][] = [];
    const metrics = {
      singleMetric: () => ({
        addDimension: () => undefined,
        addMetric: (name: string, _unit: string, value: number) => published.push([name, value]),
      }),
    } as unknown as Metrics;
    // Act
    const first = await cleanup({ ...env.deps, metrics });
    const second = await cleanup({ ...env.deps, metrics });
    // Assess
    expect(first).toMatchObject({ ledgerIncomplete: 0, ledgerAbandoned: 1 });
    expect(second).toMatchObject({ ledgerIncomplete: 0, ledgerAbandoned: 0 });
    expect(published).toEqual([
      [BATCH_METRICS.ledgerIncomplete.name, 0],
      [BATCH_METRICS.ledgerAbandoned.name, 1],
      [BATCH_METRICS.ledgerIncomplete.name, 0],
      [BATCH_METRICS.ledgerAbandoned.name, 0],
    ]);
    const reason = "revision 1's manifest, which its diff reads, is no longer kept";
    expect(await env.deps.store.restatements.runStates('revenue', 0)).toEqual([
      expect.objectContaining({ state: 'abandoned', abandoned: reason }),
    ]);
    const page = await env.deps.store.restatements.list('revenue', 0);
    expect(page.runs).toEqual([
      { run: expect.objectContaining({ runId: 'run-orphaned', complete: false }), abandoned: reason },
    ]);
  });
});

/**
 * A recorded change (a complete header) restating one value a day for `days` days from `firstDay`, as a
 * definition change or a backfill writes them: one ledger item per day, in day order.
 */
async function recordedChange(
  deps: BatchDeps,
  runId: string,
  at: number,
  firstDay: number,
  days: number,
): Promise<{ bucket: number; runId: string }[]> {
  const buckets = Array.from({ length: days }, (_, day) => firstDay + day * DAY + 5 * HOUR);
  const run: LedgerRun = {
    view: 'revenue',
    runId,
    revision: 2,
    previousRevision: 1,
    at,
    cause: 'definition-change',
    watermark: { before: today, after: today },
    complete: true,
    throughDay: dayOf(buckets.at(-1) as number),
    entries: days,
  };
  await deps.store.restatements.begin(run);
  for (const bucket of buckets)
    await deps.store.restatements.recordDay(run, dayOf(bucket), [
      {
        bucket,
        group: { country: 'US' },
        measure: 'orders',
        old: 1,
        new: 2,
        batchVersion: 'run-new',
        previousBatchVersion: 'run-old',
        cause: 'definition-change',
      },
    ]);
  return buckets.map((bucket) => ({ bucket, runId }));
}

describe('restatement ledger: reading bounds', () => {
  it('reads only the days a bucket range covers: the last days of a change of hundreds answer whole in one page', async () => {
    // Prepare: a change restating 300 days, one item each (far more than a page reads)
    const env = await setUp();
    const firstDay = today - 400 * DAY;
    const recorded = await recordedChange(env.deps, 'run-definition', now, firstDay, 300);
    // Act: the last three days, with the default bounds
    const from = firstDay + 297 * DAY;
    const page = await env.deps.store.restatements.list('revenue', 0, { from, to: from + 3 * DAY });
    // Assess
    expect(page.cursor).toBeNull();
    expect(page.restatements.map(({ bucket, runId }) => ({ bucket, runId }))).toEqual(recorded.slice(297));
    expect(page.runs).toEqual([expect.objectContaining({ abandoned: null })]);
  });

  it('stops at the headers a page reads, with a cursor there, and goes on from it across headers', async () => {
    // Prepare: five changes of two days each
    const env = await setUp();
    const firstDay = today - 30 * DAY;
    const recorded: { bucket: number; runId: string }[] = [];
    for (let change = 0; change < 5; change++)
      recorded.push(
        ...(await recordedChange(env.deps, `run-${change}`, now + change, firstDay + 2 * change * DAY, 2)),
      );
    // Act: two headers a page
    const pages: { restatements: number; runs: string[] }[] = [];
    const listed: { bucket: number; runId: string }[] = [];
    let cursor: string | null = null;
    do {
      const page = await env.deps.store.restatements.list('revenue', 0, {
        maxHeaders: 2,
        ...(cursor === null ? {} : { cursor }),
      });
      pages.push({ restatements: page.restatements.length, runs: page.runs.map(({ run }) => run.runId) });
      listed.push(...page.restatements.map(({ bucket, runId }) => ({ bucket, runId })));
      cursor = page.cursor;
    } while (cursor !== null);
    // Assess
    expect(pages).toEqual([
      { restatements: 4, runs: ['run-0', 'run-1'] },
      { restatements: 4, runs: ['run-2', 'run-3'] },
      { restatements: 2, runs: ['run-4'] },
    ]);
    expect(listed).toEqual(recorded);
  });
});

describe('rollback: a crash at each step', () => {
  it.each([
    ['after the history write', 'begin'],
    ['after the header write', 'commitManifest'],
  ] as const)(
    'leaves readers where they were when it crashes %s; a retry rolls back and records once',
    async (_when, step) => {
      const { deps, second, first } = await lateRestated();
      const crash = async () => {
        throw new Error(`injected: the rollback died at ${step}`);
      };
      const crashing = withLedger(deps.store, step === 'begin' ? { begin: crash } : {});
      if (step === 'commitManifest') crashing.commitManifest = crash;
      // Act
      await expect(rollback(rollbackDeps(deps, crashing), 'revenue')).rejects.toThrow(/injected/);
      // Assess: readers are on the run's version, and no rollback is listed
      expect((await served(deps)).manifest).toEqual(second.manifest);
      expect((await deps.store.restatements.runs('revenue', 0)).map(({ cause }) => cause)).toEqual([
        'late-events',
      ]);
      const result = await rollback(rollbackDeps(deps), 'revenue');
      expect(result).toMatchObject({ revision: 3, restatements: 2, ledger: { complete: true } });
      expect((await served(deps)).rows).toEqual(first.rows);
      expect((await ledger(deps)).filter((entry) => entry.cause === 'rollback')).toHaveLength(2);
      await cleanup(deps);
      expect((await deps.store.restatements.runStates('revenue', 0)).map(({ state }) => state)).toEqual([
        'served',
        'served',
      ]);
    },
  );

  it('answers once its write is done even when recording fails after it: listed incomplete, clean-up completes it', async () => {
    const { deps, first } = await lateRestated();
    const failing = withLedger(deps.store, {
      recordDay: async () => {
        throw new Error('injected: the ledger write failed');
      },
    });
    // Act
    const result = await rollback(rollbackDeps(deps, failing), 'revenue');
    // Assess: rolled back, and the answer says the ledger is not complete
    expect(result).toMatchObject({
      revision: 3,
      restatements: null,
      ledger: { runId: 'rollback-r3', complete: false, throughDay: '' },
    });
    expect((await served(deps)).rows).toEqual(first.rows);
    const incomplete = (await deps.store.restatements.runs('revenue', 0)).filter((run) => !run.complete);
    expect(incomplete).toEqual([expect.objectContaining({ runId: 'rollback-r3', revision: 3 })]);
    await cleanup(deps);
    const rolledBack = (await ledger(deps)).filter((entry) => entry.cause === 'rollback');
    expect(rolledBack.map(({ measure, revision }) => ({ measure, revision }))).toEqual([
      { measure: 'orders', revision: 3 },
      { measure: 'revenue', revision: 3 },
    ]);
  });

  it('runs beside a clean-up recording the same change: each value recorded once, the versions it serves kept', async () => {
    const { deps, first, second } = await lateRestated();
    let cleanedUp = false;
    const racing = withLedger(deps.store, {
      recordDay: async (...args) => {
        if (!cleanedUp) {
          cleanedUp = true;
          await cleanup(deps);
        }
        return deps.store.restatements.recordDay(...args);
      },
    });
    // Act
    const result = await rollback(rollbackDeps(deps, racing), 'revenue');
    // Assess
    expect(cleanedUp).toBe(true);
    expect(result).toMatchObject({ restatements: 2, ledger: { complete: true, entries: 2 } });
    expect((await ledger(deps)).filter((entry) => entry.cause === 'rollback')).toHaveLength(2);
    expect((await served(deps)).rows).toEqual(first.rows);
    // The version rolled back from stays readable (a rollback may return to it).
    await cleanup(deps);
    await rollback(rollbackDeps(deps), 'revenue', { to: second.manifest.lastRunId });
    expect((await served(deps)).rows).toEqual(second.rows);
  });

  it('records a rollback that changes no value: its header carries the watermark going back', async () => {
    const env = await setUp();
    await env.send(monthOrders);
    await runBatch(env.deps);
    const first = await served(env.deps);
    await runBatch(env.deps);
    const second = await served(env.deps);
    // Act
    await rollback(rollbackDeps(env.deps), 'revenue');
    // Assess
    expect(await ledger(env.deps)).toEqual([]);
    const rollbacks = (await env.deps.store.restatements.runs('revenue', 0)).filter(
      (run) => run.cause === 'rollback',
    );
    expect(rollbacks).toEqual([
      expect.objectContaining({
        runId: 'rollback-r3',
        complete: true,
        entries: 0,
        watermark: { before: second.manifest.watermark, after: first.manifest.watermark },
      }),
    ]);
  });
});

describe('rollback: one conditional write back to a kept version', () => {
  it('serves the previous version whole again, and records what it restated with cause rollback', async () => {
    const { deps, first, second } = await lateRestated();
    // Act
    const result = await rollback(rollbackDeps(deps), 'revenue');
    // Assess
    const back = await served(deps);
    expect(back.rows).toEqual(first.rows);
    expect(back.manifest).toMatchObject({
      revision: 3,
      days: first.manifest.days,
      watermark: first.manifest.watermark,
      lastRunId: first.manifest.lastRunId,
      rolledBackTo: { revision: 1, lastRunId: first.manifest.lastRunId },
    });
    expect(back.manifest.rolledBackVersions).toBeUndefined();
    expect(result).toMatchObject({
      revision: 3,
      previousRevision: 2,
      target: { revision: 1, batchVersion: first.manifest.lastRunId, version: 1 },
      restatements: 2,
      heldBackVersion: null,
    });
    const rolledBack = (await ledger(deps)).filter((entry) => entry.cause === 'rollback');
    expect(
      rolledBack.map(({ measure, old, new: next, runId, batchVersion }) => ({
        measure,
        old,
        next,
        runId,
        batchVersion,
      })),
    ).toEqual([
      {
        measure: 'orders',
        old: usOrdersBefore.length + 1,
        next: usOrdersBefore.length,
        runId: 'rollback-r3',
        batchVersion: first.manifest.lastRunId,
      },
      {
        measure: 'revenue',
        old: usOrdersBefore.reduce((total, order) => total + order.amount, lateOrder.amount),
        next: usOrdersBefore.reduce((total, order) => total + order.amount, 0),
        runId: 'rollback-r3',
        batchVersion: first.manifest.lastRunId,
      },
    ]);
    // A rollback can itself be rolled back: `--to` the run it undid.
    await rollback(rollbackDeps(deps), 'revenue', { to: second.manifest.lastRunId });
    expect((await served(deps)).rows).toEqual(second.rows);
  });

  it('refuses a version no manifest kept, and a manifest that moved past the revision read', async () => {
    const { deps } = await lateRestated();
    await expect(rollback(rollbackDeps(deps), 'revenue', { to: 'run-never' })).rejects.toThrow(
      RollbackRefusedError,
    );
    await expect(rollback(rollbackDeps(deps), 'revenue', { expectedRevision: 1 })).rejects.toThrow(
      ManifestConflictError,
    );
    expect((await served(deps)).manifest.revision).toBe(2);
  });

  it('fails when a run commits between its read and its write, and readers stay on the run’s version', async () => {
    const { deps, send } = await lateRestated();
    await send([{ ...lateOrder, id: 'late-2', amount: 5 }]);
    const racing = Object.create(deps.store) as DynamoBatchStore;
    let runId = '';
    racing.commitManifest = async (...args) => {
      await runBatch(deps);
      runId = (await deps.store.getManifest('revenue'))?.lastRunId as string;
      return deps.store.commitManifest(...args);
    };
    // Act
    await expect(rollback(rollbackDeps(deps, racing), 'revenue')).rejects.toThrow(ManifestConflictError);
    // Assess
    const now = await served(deps);
    expect(now.manifest).toMatchObject({ revision: 3, lastRunId: runId });
    expect(now.manifest.rolledBackTo).toBeUndefined();
    expect((await ledger(deps)).some((entry) => entry.cause === 'rollback')).toBe(false);
  });

  it('makes a run whose commit it beats fail for that view, and readers see the rollback’s version', async () => {
    const { deps, send, first } = await lateRestated();
    await send([{ ...lateOrder, id: 'late-2', amount: 5 }]);
    const racing = Object.create(deps.store) as DynamoBatchStore;
    racing.commitManifest = async (...args) => {
      await rollback(rollbackDeps(deps), 'revenue');
      return deps.store.commitManifest(...args);
    };
    // Act
    await expect(runBatch({ ...deps, store: racing })).rejects.toThrow(
      /revenue failed in Commit \(ManifestConflictError\)/,
    );
    // Assess
    const now = await served(deps);
    expect(now.manifest).toMatchObject({ revision: 3, rolledBackTo: { revision: 1 } });
    expect(now.rows).toEqual(first.rows);
  });

  it('keeps a rollback target through clean-up within the retention, and lets it go after', async () => {
    const { deps, first } = await lateRestated();
    const day = new Date(lateHour).toISOString().slice(0, 10);
    const replaced = first.manifest.days[day] as string;
    const readReplaced = () => deps.store.readDayRows('revenue', 1, day, replaced);
    const rowsBefore = await readReplaced();
    expect(rowsBefore.length).toBeGreaterThan(0);
    // Act, assess: within the retention (the grace period is 0 here) the version stays
    await cleanup({ ...deps, now: () => Date.now() + 6 * DAY });
    expect(await readReplaced()).toEqual(rowsBefore);
    // Past it, the replaced manifest is forgotten and its version goes as any replaced one
    const past = { ...deps, now: () => Date.now() + 8 * DAY };
    expect(await cleanup(past)).toMatchObject({ manifestsForgotten: 1 });
    expect(await readReplaced()).toEqual([]);
    await expect(rollback(rollbackDeps(past), 'revenue')).rejects.toThrow(
      /no earlier manifest of revenue is kept/,
    );
  });

  it('refuses a version replaced longer ago than the retention, naming when', async () => {
    const { deps } = await lateRestated();
    await expect(rollback({ ...deps, now: () => Date.now() + 8 * DAY }, 'revenue')).rejects.toThrow(
      /past the rollback retention of 7 days/,
    );
  });

  it('holds back a rolled-back definition version: the next runs skip the view and say why', async () => {
    const order = fieldsOf(orderEvents);
    const v1 = defineView(orderEvents, {
      name: 'revenue',
      version: 1,
      bucket: 'hour',
      groupBy: ['country'],
      measures: { revenue: sum(order.amount), orders: count() },
    });
    const v2 = defineView(orderEvents, {
      name: 'revenue',
      version: 2,
      bucket: 'hour',
      groupBy: ['country'],
      measures: {
        revenue: sum(caseWhen(order.status.eq('refunded'), order.amount.times(-1)).else(order.amount)),
        orders: count(),
      },
    });
    const env = await setUp([v1]);
    await env.send([...monthOrders, { ...lateOrder, status: 'refunded' }]);
    await runBatch(env.deps);
    const first = await served(env.deps, v1);
    const fixed = { ...env.deps, views: [v2] };
    // The speed layer has counted v2 from the start: its backfill switches the manifest at once.
    await env.deps.store.definitions.register(v2, 0, { counting: true });
    await runBatch(fixed);
    expect((await served(env.deps, v2)).manifest.version).toBe(2);
    // v2 subtracts the refunded late order that v1 added: its hour is restated by the definition change.
    const changed = await ledger(env.deps);
    expect(changed.map(({ bucket, measure, cause }) => ({ bucket, measure, cause }))).toEqual([
      { bucket: lateHour, measure: 'revenue', cause: 'definition-change' },
    ]);
    // A target whose version's definition is not in the registry (as before it existed) cannot be served.
    await env.table.delete(definitionKey('revenue', 1));
    const refused = rollback(rollbackDeps(fixed), 'revenue');
    await expect(refused).rejects.toThrow(/version 1 of revenue is not in the definition registry/);
    await expect(refused).rejects.toMatchObject({ reason: 'unservable' });
    expect((await served(env.deps, v2)).manifest.version).toBe(2);
    await env.deps.store.definitions.register(v1, 0, { counting: false });
    // Nor one the speed layer does not count: its speed items would miss events from the target's W on.
    await expect(rollback(rollbackDeps(fixed), 'revenue')).rejects.toThrow(/does not count revenue v1/);
    // The speed layer goes on counting the version a switch replaced, for the rollback retention.
    await env.deps.store.definitions.register(v1, 0, { counting: true });
    // Act
    const result = await rollback(rollbackDeps(fixed), 'revenue');
    // Assess
    expect(result.heldBackVersion).toBe(2);
    const runId = 'run-after-rollback';
    await runBatch(fixed, { input: { runId } });
    const after = await served(env.deps, v1);
    expect(after.manifest).toMatchObject({ version: 1, revision: 3, rolledBackVersions: [2] });
    expect(after.rows).toEqual(first.rows);
    expect((await env.deps.store.runOutcome(runId))?.views).toEqual([
      {
        view: 'revenue',
        status: 'rolled-back',
        version: 2,
        reason: expect.stringMatching(/version 2 was rolled back/),
      },
    ]);
  });
});

const REPOSITORY = fileURLToPath(new URL('../..', import.meta.url));

describe('restatements and rollback through the API and the CLI', () => {
  let runtime: TestRuntime;
  beforeAll(async () => {
    runtime = await startTestRuntime('ledger');
  }, 60_000);
  afterAll(() => runtime?.stop());

  const driftless = (args: readonly string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const env = { ...process.env };
      for (const name of ['DRIFTLESS_API', 'DRIFTLESS_API_KEY', 'DRIFTLESS_DATA_DIR']) delete env[name];
      execFile(
        'npx',
        [
          'tsx',
          'bin/driftless.ts',
          '--api',
          runtime.runtime.apiUrl,
          '--api-key',
          runtime.runtime.apiKey,
          ...args,
        ],
        { cwd: REPOSITORY, env, timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });

  let archived = 0;
  async function post(orders: readonly Order[]) {
    const answer = await runtime.call('POST', '/events', sentOrders(orders));
    expect(answer.status).toBe(202);
    archived += orders.length;
    await waitFor(() => runtime.runtime.archiveConsumer.stats.records >= archived, { what: 'the archive' });
  }
  async function runBatchThroughApi() {
    return (await batchRunThroughApi(runtime.call, { timeoutMs: 60_000 })).id as string;
  }
  const lateHourSeries = () =>
    runtime.call('GET', `/views/revenue/series?from=${lateHour}&to=${lateHour + HOUR}&country=US`);

  it('lists a late event’s restatement of a closed month, rolls it back, and lists the rollback', async () => {
    // Prepare: the month computed, then the late order and another run
    await post(monthOrders);
    await runBatchThroughApi();
    const before = (await lateHourSeries()).body.buckets;
    await post([lateOrder]);
    const runId = await runBatchThroughApi();
    // Act, assess: the API lists the restatement with its cause
    const listed = await runtime.call(
      'GET',
      `/views/revenue/restatements?since=${new Date(now - DAY).toISOString()}`,
    );
    expect(listed.status).toBe(200);
    expect(listed.body.cursor).toBeNull();
    expect(listed.body.restatements).toEqual([
      expect.objectContaining({
        bucket: lateHour,
        group: { country: 'US' },
        measure: 'orders',
        cause: 'late-events',
        runId,
      }),
      expect.objectContaining({ bucket: lateHour, measure: 'revenue', cause: 'late-events', runId }),
    ]);
    // The CLI's table
    const table = await driftless(['restatements', 'revenue']);
    expect(table.stderr).toBe('');
    expect(table.stdout).toContain('late-events');
    expect(table.stdout).toContain(`${usOrdersBefore.length} -> ${usOrdersBefore.length + 1}`);
    expect(table.stdout).toContain(runId);
    // Rolled back through the CLI: readers get the previous numbers, and the ledger says so
    const rolled = await driftless(['rollback', 'revenue']);
    expect(rolled.stderr).toBe('');
    expect(rolled.stdout).toMatch(/revenue: revision \d+ -> \d+, serving again revision \d+/);
    expect((await lateHourSeries()).body.buckets).toEqual(before);
    const after = await runtime.call('GET', '/views/revenue/restatements');
    expect(after.body.restatements.filter((entry: Restatement) => entry.cause === 'rollback')).toHaveLength(
      2,
    );
    expect(after.body.incomplete).toEqual([]);
    expect(after.body.rollbacks).toEqual([
      expect.objectContaining({
        cause: 'rollback',
        complete: true,
        entries: 2,
        watermark: expect.any(Object),
      }),
    ]);
    // Page by page (one entry each), the same entries as in one answer.
    const paged: Restatement[] = [];
    let cursor: string | null = null;
    do {
      const page = await runtime.call(
        'GET',
        `/views/revenue/restatements?limit=1${cursor === null ? '' : `&cursor=${cursor}`}`,
      );
      expect(page.status).toBe(200);
      paged.push(...page.body.restatements);
      cursor = page.body.cursor;
    } while (cursor !== null);
    expect(paged).toEqual(after.body.restatements);
    // The CLI sent the revision it read: the same rollback, sent again with it, is refused.
    const again = await driftless(['rollback', 'revenue', '--expected-revision', String(paged[0]?.revision)]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/answered 409: .*revision/);
  });

  it('answers 409 naming the revision when the manifest moved, 404 saying why, 400 naming the field', async () => {
    const manifest = await runtime.call('GET', '/views');
    expect(manifest.status).toBe(200);
    const stale = await runtime.call('POST', '/views/revenue/rollback', { expectedRevision: 1 });
    expect(stale.status).toBe(409);
    expect(stale.body.details.parameter).toBe('expectedRevision');
    expect(stale.body.message).toMatch(/revision \d+/);
    const missing = await runtime.call('POST', '/views/revenue/rollback', { to: 'run-never' });
    expect(missing.status).toBe(404);
    expect(missing.body.message).toMatch(
      /no kept manifest of revenue was committed by batch version run-never/,
    );
    const unknownField = await runtime.call('POST', '/views/revenue/rollback', { revision: 2 });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.details.parameter).toBe('revision');
    const badSince = await runtime.call('GET', '/views/revenue/restatements?since=yesterday');
    expect(badSince.status).toBe(400);
    expect(badSince.body.details.parameter).toBe('since');
    // Forged cursors: not ours, a key DynamoDB would refuse (bounds out of order, over 1 KB), bad parts.
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const cursor of [
      'nope',
      forged({ sk: '~~', index: 0 }),
      forged([0, 'r'.repeat(2_000), '2025-01-01', 0, 0]),
      forged([0, 'run#1', '2025-01-01', 0, 0]),
      forged([-1, 'run-1', '2025-01-01', 0, 0]),
      forged([0, 'run-1', '2025-13-99~', 0, 0]),
      forged([0, 'run-1', '2025-01-01', 1e9, 0]),
      forged([0, 'run-1', '2025-01-01', 0, -1]),
    ]) {
      const badCursor = await runtime.call('GET', `/views/revenue/restatements?cursor=${cursor}`);
      expect(badCursor.status, cursor).toBe(400);
      expect(badCursor.body.details.parameter).toBe('cursor');
    }
  });
});
