import { AsyncLocalStorage } from 'node:async_hooks';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AttributeValue, WriteRequest } from '@aws-sdk/client-dynamodb';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import pLimit from 'p-limit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { catalogs, orderEvents, pageViewEvents } from '../../events';
import {
  DynamoBatchStore,
  type Manifest,
  type VersionEntry,
} from '../../functions/adapters/dynamo-batch-store';
import { type QueryEngine, QueryFailedError } from '../../functions/adapters/query-engine';
import { cleanup } from '../../functions/batch/cleanup';
import { MAX_DAY_RANGES } from '../../functions/batch/days';
import type { BatchDeps } from '../../functions/batch/deps';
import type { LoadInput } from '../../functions/batch/load';
import { plan, type ViewPlan } from '../../functions/batch/plan';
import type { DriftReport } from '../../functions/batch/reconcile';
import { archiveDayPrefix } from '../../functions/commons/layout';
import {
  BUCKET_WIDTH_MS,
  caseWhen,
  compileJs,
  count,
  dayOf,
  daysInRanges,
  deduplicateEvents,
  defineView,
  fieldsOf,
  sum,
  type ViewDefinition,
  type ViewRow,
} from '../../functions/core';
import { SpeedProcessor } from '../../functions/speed/processor';
import { Quarantine } from '../../functions/speed/quarantine';
import { BATCH_STATES, RUN_INCOMPLETE_ERROR } from '../../lib/batch-layer';
import { createStream } from '../../local/emulators';
import { KinesisConsumer } from '../../local/kinesis-consumer';
import { bucketDir, withListingsObserved } from '../../local/platform';
import { views as demoViews } from '../../views';
import { pageViewEventsWithHorizon } from '../support/arbitraries';
import { type Order, runBatch, settledNowTemplate, startBatchStack } from '../support/batch-stack';
import { ordersWithCoupon, sentOrders, sentPageViews, withType } from '../support/events';
import { quietLogger, quietMetrics, startFixture } from '../support/fixture';
import { kinesisEvent, kinesisRecord, sequenceNumber } from '../support/kinesis-factory';
import { policyStatements, synthesizeStack } from '../support/template';
import { waitFor } from '../support/wait';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const today = Date.now() - (Date.now() % DAY);

let fixture: Awaited<ReturnType<typeof startFixture>>;
beforeAll(async () => {
  fixture = await startFixture();
});
afterAll(() => fixture.close());

/**
 * The closes of what the running test set up (its DuckDB engine, its folder): called after it, passed or
 * failed, so one failure leaks nothing into the next test. A set-up made in `beforeAll` is not a test's:
 * its `afterAll` closes it.
 */
const setUpByTest: (() => Promise<void>)[] = [];
let testRunning = false;
beforeEach(() => {
  testRunning = true;
});
afterEach(async () => {
  testRunning = false;
  await Promise.all(setUpByTest.splice(0).map((close) => close()));
});

let sequence = 0;

const orderFields = fieldsOf(orderEvents);
/** Revenue counting refunds as revenue (v1), then the fix, made once in the view: refunds subtracted (v2). */
const revenueV1 = defineView(orderEvents, {
  name: 'revenue',
  version: 1,
  bucket: 'hour',
  groupBy: ['country'],
  measures: { revenue: sum(orderFields.amount), orders: count() },
});
const revenueV2 = defineView(orderEvents, {
  name: 'revenue',
  version: 2,
  bucket: 'hour',
  groupBy: ['country'],
  measures: {
    revenue: sum(
      caseWhen(orderFields.status.eq('refunded'), orderFields.amount.times(-1)).else(orderFields.amount),
    ),
    orders: count(),
  },
});

/** The stack as synthesized for a stage whose watermark trails now by nothing. */
const template = settledNowTemplate;

/** The batch stack (`startBatchStack`) with every listing of the archive recorded, closed after the test. */
async function setUp(views: readonly ViewDefinition[] = demoViews) {
  /** Every listing of the archive bucket, by anyone: a plan must make none. */
  const listings: string[] = [];
  const stack = await startBatchStack(fixture, template, {
    name: 'batch',
    views,
    observe: (platform, archiveBucket) =>
      withListingsObserved(platform, archiveBucket, (prefix) => listings.push(prefix)),
    deps: {
      // Clean-up tests choose their grace; the stage's (at least 121 minutes) would hide the versions.
      graceMs: 0,
      // Nor their rollback retention (7 days by default), which keeps every replaced manifest's versions.
      rollbackRetentionMs: 0,
    },
  });
  if (testRunning) setUpByTest.push(stack.close);
  const { deps, platform, archiveBucket } = stack;
  return {
    deps,
    /** The archive bucket, as S3 would have it: a put announces the object to EventBridge. */
    archive: platform.bucket(archiveBucket),
    archiveDir: bucketDir(stack.dir, archiveBucket),
    quarantine: platform.bucket('quarantine'),
    listings,
    eventBridge: stack.eventBridge,
    send: stack.send,
    firehose: stack.firehose,
    close: stack.close,
    with: (other: readonly ViewDefinition[]) => ({ ...deps, views: other }),
  };
}

/** Counts orders in the speed layer, as the speed handler would. */
async function speedProcess(
  env: Awaited<ReturnType<typeof setUp>>,
  deps: BatchDeps,
  orders: readonly Order[],
) {
  const processor = new SpeedProcessor({
    catalogs,
    views: deps.views,
    store: deps.speed,
    quarantine: new Quarantine(env.quarantine),
    logger: quietLogger(),
    metrics: quietMetrics(),
    retentionMs: 72 * HOUR,
  });
  const records = orders.map((order) =>
    kinesisRecord({
      shardId: 'shardId-000000000001',
      sequenceNumber: sequenceNumber(sequence++),
      data: JSON.stringify(withType(orderEvents, order)),
    }),
  );
  const response = await processor.process(kinesisEvent(records));
  expect(response.batchItemFailures).toEqual([]);
}

/** Orders in the last hours before `now`, for the buckets a run is about to make exact. */
const recentOrders = (now: number, prefix: string): Order[] =>
  Array.from({ length: 40 }, (_, index) => ({
    id: `${prefix}${index}`,
    ts: now - 5 * HOUR + index * 397_000,
    country: countries[index % 3],
    amount: 500 + index,
    status: index % 3 === 0 ? 'refunded' : 'paid',
  }));

const countries = ['US', 'FR', 'DE'];
const ordersOver = (days: number, perDay: number, prefix = 'o'): Order[] =>
  Array.from({ length: days * perDay }, (_, index) => ({
    id: `${prefix}${index}`,
    ts: today - days * DAY + Math.floor((index * DAY) / perDay) + (index % 7) * 1000,
    country: countries[index % 3],
    amount: 1_000 + index,
    ...(index % 4 === 0 ? { discount: 150 } : {}),
    status: index % 5 === 0 ? 'refunded' : 'paid',
  }));

/** The exact answer below the watermark: valid events, one per id. */
function exact(
  view: ViewDefinition,
  orders: readonly (Order | object | string)[],
  watermark: number,
): ViewRow[] {
  // Each event counts in its catalog's views only; one without a type is an order, as `send` sends it.
  const valid = orders.flatMap((order) => {
    if (typeof order === 'string') return [];
    const parsed = catalogs.parse(withType(orderEvents, order));
    return parsed.ok && parsed.catalog.name === view.events.name ? [parsed.event] : [];
  });
  return compileJs(view)
    .reduce(deduplicateEvents(view, valid))
    .sorted()
    .filter((row) => row.bucket < watermark);
}

const sorted = (rows: ViewRow[]) =>
  [...rows].sort(
    (a, b) => a.bucket - b.bucket || JSON.stringify(a.group).localeCompare(JSON.stringify(b.group)),
  );

async function served(deps: BatchDeps, view: ViewDefinition) {
  const manifest = await deps.store.getManifest(view.name);
  if (manifest === null) return { manifest, rows: [] as ViewRow[] };
  return { manifest, rows: sorted(await deps.store.readRows(view, manifest, 0, manifest.watermark)) };
}

async function expectExact(deps: BatchDeps, orders: readonly (Order | object | string)[]) {
  for (const view of deps.views) {
    const { manifest, rows } = await served(deps, view);
    expect(manifest, view.name).not.toBeNull();
    expect(rows, view.name).toEqual(sorted(exact(view, orders, manifest?.watermark ?? 0)));
  }
}

describe('local archiver', () => {
  it('consumes the stream into events/order/dt=<event day>/ gzip JSON lines, valid events only', async () => {
    // Prepare
    const env = await setUp();
    const stream = `archive-${Date.now()}`;
    await createStream(fixture.kinesis, stream, 2);
    const orders = ordersOver(2, 25);
    await fixture.kinesis.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: [...sentOrders(orders).map((order) => JSON.stringify(order)), 'garbage'].map(
          (data, index) => ({
            Data: Buffer.from(data),
            PartitionKey: `k${index}`,
          }),
        ),
      }),
    );
    const consumer = new KinesisConsumer({
      kinesis: fixture.kinesis,
      streamName: stream,
      handler: env.firehose,
      onFailure: async () => {},
      settings: { batchSize: 20, maximumBatchingWindowMs: 0 },
      pollIntervalMs: 20,
    });
    // Act
    consumer.start();
    await waitFor(async () => consumer.idle && (await env.archive.list('events/')).length > 0, {
      what: 'the archive',
    });
    await consumer.stop();
    // Assess
    const keys = (await env.archive.list('events/')).map((object) => object.key);
    expect(
      keys.every((key) => /^events\/order\/dt=\d{4}-\d{2}-\d{2}\/shardId-\d+-\d+\.json\.gz$/.test(key)),
    ).toBe(true);
    await runBatch(env.deps);
    await expectExact(env.deps, orders);
  });
});

describe('batch layer: the synthesized state machine run locally', () => {
  it('computes every view exactly below the new watermark, without producer duplicates or invalid records', async () => {
    // Prepare
    const env = await setUp();
    const orders: (Order | string)[] = ordersOver(3, 40);
    orders.push({ ...(orders[3] as Order) }, { ...(orders[10] as Order) }); // producer duplicates
    orders.push('{"not": "an order"}', { id: 'bad', ts: today - DAY, amount: -5, status: 'paid' });
    await env.send(orders);
    // Act
    const started = Date.now();
    await runBatch(env.deps, { input: { now: started } });
    // Assess
    for (const view of demoViews) {
      const manifest = await env.deps.store.getManifest(view.name);
      const width = BUCKET_WIDTH_MS[view.time.bucket];
      expect(manifest?.watermark).toBe(started - (started % width));
      // A view's days are its catalog's: no page view was sent.
      expect(Object.keys(manifest?.days ?? {})).toHaveLength(view.events.name === orderEvents.name ? 3 : 0);
    }
    await expectExact(env.deps, orders);
  });

  it("runs over both catalogs: each view exact from its own catalog's table and days only", async () => {
    // Prepare: orders over three days, page views on the last two, a page-view copy, an invalid page view
    const env = await setUp();
    const orders = ordersOver(3, 20);
    const pageViews = sentPageViews(
      Array.from({ length: 30 }, (_, index) => ({
        id: `v${index}`,
        ts: today - 2 * DAY + index * 5_000_000,
        session: `s${index % 4}`,
        path: index % 2 === 0 ? '/' : '/docs',
        country: countries[index % 3],
      })),
    );
    const events = [
      ...orders,
      ...pageViews,
      { ...pageViews[4] },
      withType(pageViewEvents, { id: 'v-bad', ts: today - DAY, path: '' }),
      withType({ name: 'click' }, { id: 'c1', ts: today - DAY }),
    ];
    await env.send(events);
    // Act
    await runBatch(env.deps);
    // Assess
    await expectExact(env.deps, events);
    const pageViewDays = await env.deps.store.getManifest('page_views');
    expect(Object.keys(pageViewDays?.days ?? {}).sort()).toEqual([
      dayName(today - 2 * DAY),
      dayName(today - DAY),
    ]);
    const { rows } = await served(
      env.deps,
      demoViews.find((view) => view.name === 'page_views') as ViewDefinition,
    );
    expect(rows.reduce((total, row) => total + (row.values.views ?? 0n), 0n)).toBe(30n);
  });

  it('corrects a late event in an old day on the next run, rereading only the dirty days', async () => {
    // Prepare
    const env = await setUp();
    const orders: Order[] = ordersOver(4, 10);
    await env.send(orders);
    await runBatch(env.deps);
    const late: Order = {
      id: 'late-1',
      ts: today - 3 * DAY + 5 * HOUR,
      country: 'US',
      amount: 77_700,
      status: 'paid',
    };
    // Act
    await env.send([late]);
    await runBatch(env.deps);
    // Assess
    await expectExact(env.deps, [...orders, late]);
    const revenue = await env.deps.store.getManifest('revenue');
    const lateDay = new Date(late.ts).toISOString().slice(0, 10);
    expect(revenue?.days[lateDay]).toBe(revenue?.lastRunId);
    // The late day, and the day after it (within the dedupe horizon its copies could change), are recomputed.
    const dayAfter = new Date(late.ts + DAY).toISOString().slice(0, 10);
    expect(revenue?.days[dayAfter]).toBe(revenue?.lastRunId);
    const untouched = Object.entries(revenue?.days ?? {}).filter(
      ([day]) => day !== lateDay && day !== dayAfter && day < new Date(today).toISOString().slice(0, 10),
    );
    expect(untouched.every(([, version]) => version !== revenue?.lastRunId)).toBe(true);
  });

  it('recomputes the days after a changed day within the dedupe horizon: a late copy on an earlier day moves the count', async () => {
    // Prepare: run 1 counts an order on its day; a copy of it, a day earlier, arrives afterwards
    const env = await setUp();
    const orders: Order[] = ordersOver(4, 10);
    const laterCopy: Order = {
      id: 'resent',
      ts: today - 2 * DAY + 5 * HOUR,
      country: 'US',
      amount: 4_100,
      status: 'paid',
    };
    await env.send([...orders, laterCopy]);
    await runBatch(env.deps);
    const earlierCopy: Order = { ...laterCopy, ts: today - 3 * DAY + 7 * HOUR, amount: 3_900 };
    // Act: only the earlier day received objects since run 1
    await env.send([earlierCopy]);
    await runBatch(env.deps);
    // Assess: the earlier copy counts and the later one no longer does (one copy within the horizon)
    await expectExact(env.deps, [...orders, laterCopy, earlierCopy]);
    const revenue = await env.deps.store.getManifest('revenue');
    const dayAfter = new Date(laterCopy.ts).toISOString().slice(0, 10);
    expect(revenue?.days[dayAfter]).toBe(revenue?.lastRunId);
  });

  it('records the execution of each run under its run id, for runs its starter did not name', async () => {
    const env = await setUp([demoViews[0] as ViewDefinition]);
    await env.send(ordersOver(1, 5));
    await runBatch(env.deps);
    const scheduled = (await env.deps.store.getManifest('revenue'))?.lastRunId as string;
    const recorded = await env.deps.store.runExecution(scheduled);
    // The execution is not named by the run id, as the scheduler's are not: only the record finds it.
    expect(recorded).toMatch(/^arn:aws:states:[^:]+:\d+:execution:[^:]+:[\w-]+$/);
    expect(recorded?.endsWith(`:${scheduled}`)).toBe(false);
    await runBatch(env.deps, { input: { runId: 'run-named' } });
    expect(await env.deps.store.runExecution('run-named')).toMatch(/:execution:[^:]+:run-named$/);
    await expect(env.deps.store.runExecution('run-never')).resolves.toBeNull();
  });

  it('keeps a replaced day version for the grace period counted from its replacement, not its write', async () => {
    // Prepare: run 1 writes every day; four hours later a late event makes run 2 replace one day
    const env = await setUp([demoViews[0] as ViewDefinition]);
    await env.send(ordersOver(3, 10));
    const written = Date.now();
    await runBatch({ ...env.deps, now: () => written });
    const before = (await env.deps.store.getManifest('revenue')) as Manifest;
    const lateDay = Object.keys(before.days)[0] as string;
    const replacedVersion = before.days[lateDay] as string;
    const readReplaced = () =>
      env.deps.store.readDayRows('revenue', before.version, lateDay, replacedVersion);
    const rowsBefore = await readReplaced();
    expect(rowsBefore.length).toBeGreaterThan(0);
    // A clean-up that ran while run 1 was still loading found that version unreferenced; the next one
    // finds it active and clears the mark, so the mark cannot shorten its grace later.
    const [entry] = (await env.deps.store.listVersions('revenue')).filter((v) => v.day === lateDay);
    await env.deps.store.markInactive(entry as VersionEntry, written - 1);
    await cleanup({ ...env.deps, now: () => written });
    await env.send([
      { id: 'late', ts: Date.parse(lateDay) + HOUR, country: 'US', amount: 5, status: 'paid' },
    ]);
    const grace = 3 * HOUR;
    const replaced = written + 4 * HOUR;
    const at = (now: number): BatchDeps => ({ ...env.deps, graceMs: grace, now: () => now });
    // Act: run 2 commits the new version of that day, then cleans up
    await runBatch(at(replaced));
    // Assess: a reader that fetched the previous manifest can still read the replaced version
    expect((await env.deps.store.getManifest('revenue'))?.days[lateDay]).not.toBe(replacedVersion);
    expect(await readReplaced()).toEqual(rowsBefore);
    // Run 2 replaced the late day and the day after it (the dedupe horizon): two versions kept, then deleted.
    expect(await cleanup(at(replaced + grace - 1))).toMatchObject({ versionsDeleted: 0, versionsKept: 2 });
    expect(await readReplaced()).toEqual(rowsBefore);
    // ...until the grace period after the replacement has passed
    expect(await cleanup(at(replaced + grace))).toMatchObject({ versionsDeleted: 2, versionsKept: 0 });
    expect(await readReplaced()).toEqual([]);
    const versions = await env.deps.store.listVersions('revenue');
    expect(versions.some((entry) => entry.batchVersion === replacedVersion && entry.day === lateDay)).toBe(
      false,
    );
    // A concurrent clean-up that still listed it finds it gone, and does not bring its entry back.
    await expect(env.deps.store.markInactive(entry as VersionEntry, replaced + grace)).resolves.toBeNull();
    expect(await env.deps.store.listVersions('revenue')).toEqual(versions);
  });

  describe.each([
    BATCH_STATES.plan,
    BATCH_STATES.countSkippedLines,
    BATCH_STATES.findDistantCopies,
    BATCH_STATES.query,
    BATCH_STATES.load,
    BATCH_STATES.commit,
    BATCH_STATES.reconcile,
    BATCH_STATES.cleanup,
  ])('a crash in %s', (state) => {
    it('never leaves the manifest pointing at a partial load, and the rerun converges to the exact answer', async () => {
      // Prepare: a committed first run, then more events
      const env = await setUp();
      const first = ordersOver(2, 12, 'a');
      await env.send(first);
      await runBatch(env.deps);
      const before = await Promise.all(demoViews.map((view) => served(env.deps, view)));
      const more = [
        ...ordersOver(2, 9, 'b'),
        { id: 'late', ts: today - 2 * DAY + HOUR, amount: 5, status: 'paid' },
      ];
      await env.send(more);
      // Act
      await expect(runBatch(env.deps, { crashAt: state })).rejects.toThrow();
      // Assess: before the commit nothing changed; after it, the new manifest is whole. A failed
      // count of skipped lines, or report of distant copies, fails the run, but holds back no view.
      const afterCrash = await Promise.all(demoViews.map((view) => served(env.deps, view)));
      const committed = (
        [
          BATCH_STATES.countSkippedLines,
          BATCH_STATES.findDistantCopies,
          BATCH_STATES.reconcile,
          BATCH_STATES.cleanup,
        ] as string[]
      ).includes(state);
      for (const [index, view] of demoViews.entries()) {
        const now = afterCrash[index];
        if (committed)
          expect(now?.rows).toEqual(sorted(exact(view, [...first, ...more], now?.manifest?.watermark ?? 0)));
        else expect(now).toEqual(before[index]);
      }
      await runBatch(env.deps);
      await expectExact(env.deps, [...first, ...more]);
    });
  });

  it('keeps the manifest whole when the load fails half-way through its days', async () => {
    // Prepare
    const env = await setUp();
    const orders = ordersOver(3, 10);
    await env.send(orders);
    await runBatch(env.deps);
    const before = await served(env.deps, demoViews[0] as ViewDefinition);
    await env.send(ordersOver(3, 10, 'x'));
    let writes = 0;
    const store = env.deps.store;
    const failing = Object.create(store) as DynamoBatchStore;
    failing.writeDay = async (...args) => {
      if (args[0].name === demoViews[0]?.name && ++writes === 2)
        throw new Error('injected: DynamoDB unavailable');
      return store.writeDay(...args);
    };
    // Act
    await expect(runBatch({ ...env.deps, store: failing })).rejects.toThrow();
    // Assess
    expect(await served(env.deps, demoViews[0] as ViewDefinition)).toEqual(before);
    await runBatch(env.deps);
    await expectExact(env.deps, [...orders, ...ordersOver(3, 10, 'x')]);
  });

  it('refuses the commit of a second run planned against the same manifest revision', async () => {
    // Prepare: two runs that both read revision 1
    const env = await setUp();
    await env.send(ordersOver(2, 10));
    await runBatch(env.deps);
    const slow = runBatch(env.deps);
    const fast = runBatch(env.deps);
    // Act
    const outcomes = await Promise.allSettled([slow, fast]);
    // Assess: at most one commit per revision; the manifest is whole either way
    const revenue = await env.deps.store.getManifest('revenue');
    expect(revenue?.revision).toBeLessThanOrEqual(3);
    if (outcomes.some((outcome) => outcome.status === 'rejected')) expect(revenue?.revision).toBe(2);
    await expectExact(env.deps, ordersOver(2, 10));
  });

  it('backfills a changed view definition over all history, and cleans up the old versions', async () => {
    // Prepare: revenue v1 counts refunds as revenue; v2 subtracts them, the fix made once, in the view
    const [v1, v2] = [revenueV1, revenueV2];
    const env = await setUp([v1]);
    const now = Date.now();
    const orders = ordersOver(3, 12).map((order) => ({ ...order, ts: order.ts - DAY }));
    await env.send(orders);
    await runBatch(env.deps, { input: { now: now - 8 * HOUR } });
    // Act
    const fixed = env.with([v2]);
    // The speed layer has counted v2 since before the run's watermark: the switch serves no hole.
    await env.deps.store.definitions.register(v2, now - 7 * HOUR, { counting: true });
    await runBatch(fixed, { input: { now: now - 6 * HOUR } });
    // Assess: all history recomputed with v2, v1's versions cleaned up
    const manifest = await env.deps.store.getManifest('revenue');
    expect(manifest?.version).toBe(2);
    expect(Object.keys(manifest?.days ?? {})).toHaveLength(3);
    await expectExact(fixed, orders);
    const versions = await env.deps.store.listVersions('revenue');
    expect(versions.every((entry) => entry.viewVersion === 2)).toBe(true);
    // and from then on, speed (running v2) and batch agree on new events
    const newer = recentOrders(now, 'after-fix-');
    await speedProcess(env, fixed, newer);
    await env.send(newer);
    await runBatch(fixed, { input: { now } });
    const [report] = (await env.deps.store.latestDriftReports('revenue', 1)) as DriftReport[];
    expect(report?.rowsCompared).toBeGreaterThan(0);
    expect(report?.rowsDiffering).toBe(0);
  });

  it('reconciles the buckets that became exact: no drift when speed saw the same events once', async () => {
    // Prepare: the speed layer's items hold exactly the archived events
    const env = await setUp();
    const now = Date.now();
    const orders = ordersOver(1, 30).map((order) => ({ ...order, ts: order.ts - DAY }));
    await env.send(orders);
    await runBatch(env.deps, { input: { now: now - 6 * HOUR } });
    const manifest = await env.deps.store.getManifest('orders_per_minute');
    const newer = recentOrders(now, 'n');
    await speedProcess(env, env.deps, newer);
    await env.send(newer);
    // Act
    await runBatch(env.deps, { input: { now } });
    // Assess
    const reports = (await env.deps.store.latestDriftReports('orders_per_minute', 1)) as DriftReport[];
    expect(reports[0]?.from).toBe(manifest?.watermark);
    expect(reports[0]?.rowsCompared).toBeGreaterThan(0);
    expect(reports[0]?.rowsDiffering).toBe(0);
    expect(reports[0]?.driftRatio).toBe(0);
  });

  it("calls DynamoDB in each step only with actions the step's function is granted in AWS", async () => {
    // Prepare: the grants of each step's function role in the synthesized stack
    const { template } = synthesizeStack();
    const functions = template.findResources('AWS::Lambda::Function');
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as {
      Properties: {
        Roles: { Ref: string }[];
        PolicyDocument: { Statement: { Action: string | string[] }[] };
      };
    }[];
    const granted = new Map<string, Set<string>>();
    for (const [key, state] of Object.entries(BATCH_STATES)) {
      const prefix = `Batch${key[0]?.toUpperCase()}${key.slice(1)}Function`;
      const fn = Object.entries(functions).find(([id]) => id.startsWith(prefix) && !id.includes('Role'));
      if (fn === undefined) continue; // not a Lambda step: Athena's query runs on the state machine's role
      const role = (fn[1] as { Properties: { Role: { 'Fn::GetAtt': [string] } } }).Properties.Role[
        'Fn::GetAtt'
      ][0];
      const actions = policies
        .filter((policy) => policy.Properties.Roles.some((ref) => ref.Ref === role))
        .flatMap((policy) =>
          policy.Properties.PolicyDocument.Statement.flatMap((statement) => statement.Action),
        );
      granted.set(state, new Set(actions));
    }
    expect(granted.size).toBe(5);
    const env = await setUp();
    const stepOf = new AsyncLocalStorage<string>();
    const called = new Map<string, Set<string>>();
    fixture.dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        const state = stepOf.getStore();
        if (state !== undefined)
          called.set(
            state,
            (called.get(state) ?? new Set()).add(`dynamodb:${context.commandName?.replace(/Command$/, '')}`),
          );
        return next(args);
      },
      { step: 'initialize', name: 'recordActions' },
    );
    try {
      // Act: a first run six hours ago, then one that settles the recent hours (reconciled with the
      // speed layer) and replaces a day with a late event (so clean-up finds a replaced version)
      const now = Date.now();
      const aroundStep = <O>(state: string, run: () => Promise<O>) => stepOf.run(state, run);
      await env.send(ordersOver(3, 10));
      await runBatch(env.deps, { aroundStep, input: { now: now - 6 * HOUR } });
      const newer = recentOrders(now, 'n');
      await speedProcess(env, env.deps, newer);
      const late = { id: 'late', ts: today - 2 * DAY + HOUR, country: 'US', amount: 5, status: 'paid' };
      await env.send([...newer, late]);
      await runBatch(env.deps, { aroundStep, input: { now } });
    } finally {
      fixture.dynamo.middlewareStack.remove('recordActions');
    }
    // Assess
    expect([...called.keys()].sort()).toEqual([...granted.keys()].sort());
    for (const [state, actions] of called)
      expect(
        [...actions].filter((action) => !granted.get(state)?.has(action)),
        state,
      ).toEqual([]);
  });
});

describe('batch layer: one view failing holds back no other', () => {
  const order = fieldsOf(orderEvents);
  /** A view whose query the engine refuses: its SQL alone names the measure `doomed_orders`. */
  const doomed = defineView(orderEvents, {
    name: 'doomed',
    version: 1,
    bucket: 'hour',
    groupBy: ['status'],
    measures: { doomed_orders: count(), doomed_amount: sum(order.amount) },
  });
  const revenue = demoViews[0] as ViewDefinition;

  /** A committed first run six hours ago, then a run now whose engine fails the doomed view's query. */
  async function runWithDoomedQuery() {
    const env = await setUp([revenue, doomed]);
    const now = Date.now();
    await env.send(ordersOver(2, 10));
    await runBatch(env.deps, { input: { now: now - 6 * HOUR } });
    const before = {
      revenue: await env.deps.store.getManifest(revenue.name),
      doomed: await env.deps.store.getManifest(doomed.name),
    };
    await env.send(recentOrders(now, 'n'));
    const engine = Object.create(env.deps.engine) as QueryEngine;
    engine.start = async (sql) => {
      if (sql.includes('"doomed_orders"'))
        throw new QueryFailedError('q-doomed', 'FAILED', 'injected: COLUMN_NOT_FOUND');
      return env.deps.engine.start(sql);
    };
    const run = await runBatch({ ...env.deps, engine }, { input: { now, runId: 'run-doomed' } }).then(
      () => null,
      (error: Error) => error,
    );
    return { env, now, before, run };
  }

  it("commits the other view's new watermark when one view's query fails, and leaves that one as it was", async () => {
    // Prepare
    const { env, now, before, run } = await runWithDoomedQuery();
    // Act
    const after = {
      revenue: await env.deps.store.getManifest(revenue.name),
      doomed: await env.deps.store.getManifest(doomed.name),
    };
    // Assess
    const width = BUCKET_WIDTH_MS[revenue.time.bucket];
    expect(run).not.toBeNull();
    expect(before.revenue?.watermark).toBeLessThan(now - (now % width));
    expect(after.revenue?.watermark).toBe(now - (now % width));
    expect(after.revenue?.lastRunId).toBe('run-doomed');
    expect(after.doomed).toEqual(before.doomed);
  });

  it('ends the run failed, naming the view, so that the failed-run alarm fires', async () => {
    // Prepare
    const { run } = await runWithDoomedQuery();
    // Act
    const failure = run as Error & { cause?: Error };
    // Assess
    expect(failure.cause?.name).toBe(RUN_INCOMPLETE_ERROR);
    expect(failure.message).toMatch(/doomed failed in Query \(States\.TaskFailed\)/);
  });

  it("records each view's outcome: committed with its watermark, or failed with its step and cause", async () => {
    // Prepare
    const { env, now } = await runWithDoomedQuery();
    // Act
    const outcome = await env.deps.store.runOutcome('run-doomed');
    // Assess
    expect(outcome?.views).toEqual([
      expect.objectContaining({
        view: revenue.name,
        status: 'committed',
        watermark: now - (now % HOUR),
        revision: 2,
      }),
      {
        view: doomed.name,
        status: 'failed',
        step: 'Query',
        error: 'States.TaskFailed',
        cause: expect.stringContaining('injected: COLUMN_NOT_FOUND'),
        backfill: null,
      },
    ]);
  });
});

describe('batch layer: archive lines that cannot be read', () => {
  /** Good orders, then a truncated line and one whose id holds a lone surrogate escape (valid JSON, not Unicode). */
  async function runOverMalformedLines() {
    const env = await setUp();
    const orders = ordersOver(2, 10);
    await env.send(orders);
    const day = new Date(today - DAY).toISOString().slice(0, 10);
    const good: Order = {
      id: 'beside-bad-lines',
      ts: today - DAY + HOUR,
      country: 'FR',
      amount: 990,
      status: 'paid',
    };
    const key = `${archiveDayPrefix(orderEvents.name, day)}driftless-1-malformed.gz`;
    const lines = [
      JSON.stringify(good),
      '{"id":"cut-short","ts":',
      `{"id":"s\\ud800y","ts":${today - DAY + 2 * HOUR},"country":"US","amount":5,"status":"paid"}`,
    ];
    await env.archive.put(key, gzipSync(`${lines.join('\n')}\n`));
    const run = await runBatch(env.deps, { input: { runId: 'run-malformed' } }).then(
      () => null,
      (error: Error) => error,
    );
    return { env, orders: [...orders, good], key, run };
  }

  it('completes the run and counts every good event exactly', async () => {
    // Prepare
    const { env, orders, run } = await runOverMalformedLines();
    // Act
    const outcome = await env.deps.store.runOutcome('run-malformed');
    // Assess
    expect(run).toBeNull();
    expect(outcome?.views.map((view) => view.status)).toEqual(env.deps.views.map(() => 'committed'));
    await expectExact(env.deps, orders);
  });

  it("reports the skipped lines with their object in the run's outcome", async () => {
    // Prepare
    const { env, key } = await runOverMalformedLines();
    // Act
    const outcome = await env.deps.store.runOutcome('run-malformed');
    // Assess
    expect(outcome?.skippedLines).toEqual({
      lines: 2,
      objects: 1,
      byObject: [{ object: key, lines: 2 }],
      error: null,
    });
  });
});

describe('batch layer: copies of an id further apart than the dedupe horizon', () => {
  const dayOfTime = (ts: number) => new Date(ts).toISOString().slice(0, 10);
  /** Copies of `far` three days apart, of `near` one day apart (the horizon is 1), among other orders. */
  const far: Order[] = [
    { id: 'far', ts: today - 4 * DAY + HOUR, country: 'US', amount: 700, status: 'paid' },
    { id: 'far', ts: today - DAY + 2 * HOUR, country: 'US', amount: 700, status: 'paid' },
  ];
  const near: Order[] = [
    { id: 'near', ts: today - 3 * DAY + 3 * HOUR, country: 'FR', amount: 800, status: 'paid' },
    { id: 'near', ts: today - 2 * DAY + 4 * HOUR, country: 'FR', amount: 800, status: 'paid' },
  ];
  const orders = [...ordersOver(5, 8), ...far, ...near];

  /** One run over the orders, its engine changed by `engineOf` (the environment's when not given). */
  async function runOverCopies(engineOf?: (engine: QueryEngine) => QueryEngine) {
    const env = await setUp();
    await env.send(orders);
    const deps = engineOf === undefined ? env.deps : { ...env.deps, engine: engineOf(env.deps.engine) };
    const run = await runBatch(deps, { input: { runId: 'run-copies' } }).then(
      () => null,
      (error: Error & { cause?: Error }) => error,
    );
    const [report] = await env.deps.store.latestDataQualityReports(orderEvents.name, 1);
    return { env, run, report, outcome: await env.deps.store.runOutcome('run-copies') };
  }

  /** An engine that refuses the report's query (its SQL alone names "distant_copies"). */
  const refusingReport = (engine: QueryEngine): QueryEngine => {
    const refusing = Object.create(engine) as QueryEngine;
    refusing.start = async (sql) => {
      if (sql.includes('AS "distant_copies"'))
        throw new QueryFailedError('q-report', 'FAILED', 'injected: HIVE_CURSOR_ERROR');
      return engine.start(sql);
    };
    return refusing;
  };

  it('lists an id whose copies lie further apart than the horizon, with both its days', async () => {
    // Prepare
    const { run, report } = await runOverCopies();
    // Act
    const listed = report?.listed.find((entry) => entry.id === 'far');
    // Assess
    expect(run).toBeNull();
    expect(listed).toEqual({ id: 'far', days: far.map((order) => dayOfTime(order.ts)), dayCount: 2 });
  });

  it('does not list an id whose copies lie within the horizon: they count once', async () => {
    // Prepare
    const { report } = await runOverCopies();
    // Act
    const ids = report?.listed.map((entry) => entry.id);
    // Assess
    expect(ids).toEqual(['far']);
  });

  it("records the report under the run and the catalog, with the horizon, the run's days and the total", async () => {
    // Prepare
    const { report } = await runOverCopies();
    // Act
    const days = daysInRanges(report?.dayRanges ?? []);
    // Assess
    expect(report).toMatchObject({
      runId: 'run-copies',
      catalog: orderEvents.name,
      horizonDays: 1,
      ids: 1,
      error: null,
    });
    expect(days).toEqual(expect.arrayContaining(orders.map((order) => dayOfTime(order.ts))));
  });

  it("summarizes the report in the run's outcome per catalog: the horizon and the ids listed", async () => {
    // Prepare
    const { outcome } = await runOverCopies();
    // Act
    const summary = outcome?.distantCopies;
    // Assess: the demo views read both catalogs; no page view was sent
    expect(summary).toEqual([
      { catalog: orderEvents.name, horizonDays: 1, ids: 1, listed: ['far'], error: null },
      { catalog: pageViewEvents.name, horizonDays: 1, ids: 0, listed: [], error: null },
    ]);
  });

  it('records why when the report query fails, and every view still commits', async () => {
    // Prepare
    const { env, report, outcome } = await runOverCopies(refusingReport);
    // Act
    const statuses = outcome?.views.map((view) => view.status);
    // Assess
    expect(statuses).toEqual(demoViews.map(() => 'committed'));
    expect(report).toMatchObject({ runId: 'run-copies', ids: null, listed: [] });
    expect(report?.error).toMatch(/^States\.TaskFailed: .*injected: HIVE_CURSOR_ERROR/);
    expect(outcome?.distantCopies).toEqual(
      [orderEvents, pageViewEvents].map((catalog) =>
        expect.objectContaining({ catalog: catalog.name, ids: null, error: report?.error }),
      ),
    );
    await expectExact(env.deps, orders);
  });

  it('ends a run whose report failed incomplete, so that the failed-run alarm fires', async () => {
    // Prepare
    const { run } = await runOverCopies(refusingReport);
    // Act
    const failure = run as Error & { cause?: Error };
    // Assess
    expect(failure.cause?.name).toBe(RUN_INCOMPLETE_ERROR);
    expect(failure.message).toMatch(/distant copies not listed \(States\.TaskFailed/);
  });

  describe('over two catalogs, each with its own dedupe horizon', () => {
    /** Page views whose copies count once up to 3 days apart: the demo's catalog with a wider horizon. */
    const pageViewsWithin3Days = pageViewEventsWithHorizon(3);
    const viewsPerPath = defineView(pageViewsWithin3Days, {
      name: 'views_per_path',
      version: 1,
      bucket: 'hour',
      groupBy: ['path'],
      measures: { views: count() },
    });
    const pageView = (id: string, ts: number) => ({ id, ts, path: '/docs', session: 's1' });
    /** Copies 5 days apart (past 3: counted twice), 2 days apart (within 3: once, though past the orders' 1). */
    const pvFar = [pageView('pv-far', today - 6 * DAY + HOUR), pageView('pv-far', today - DAY + HOUR)];
    const pvMid = [pageView('pv-mid', today - 4 * DAY + HOUR), pageView('pv-mid', today - 2 * DAY + HOUR)];
    /** An order and a page view sharing an id days apart: different catalogs, never copies of each other. */
    const sharedId = [pageView('far', today - 6 * DAY + 2 * HOUR)];
    const pageViews = sentPageViews([...pvFar, ...pvMid, ...sharedId, ...ordersOver(2, 3, 'pv')]);
    const events = [...orders, ...pageViews];

    async function runOverBoth(views: readonly ViewDefinition[]) {
      const env = await setUp(views);
      await env.send(events);
      await runBatch(env.deps, { input: { runId: 'run-both' } });
      const reportOf = async (catalog: string) =>
        (await env.deps.store.latestDataQualityReports(catalog, 1))[0] ?? null;
      return {
        env,
        order: await reportOf(orderEvents.name),
        pageView: await reportOf(pageViewEvents.name),
        outcome: await env.deps.store.runOutcome('run-both'),
      };
    }

    it('reports each catalog over its own table, days and horizon: the ids its own copies count twice', async () => {
      // Prepare
      const { env, order, pageView } = await runOverBoth([revenueV1, viewsPerPath]);
      // Act
      const listed = (report: typeof order) => report?.listed.map((entry) => entry.id);
      // Assess
      expect(order).toMatchObject({ runId: 'run-both', catalog: orderEvents.name, horizonDays: 1, ids: 1 });
      expect(listed(order)).toEqual(['far']);
      expect(pageView).toMatchObject({
        runId: 'run-both',
        catalog: pageViewEvents.name,
        horizonDays: 3,
        ids: 1,
      });
      expect(pageView?.listed).toEqual([
        { id: 'pv-far', days: pvFar.map((event) => dayOfTime(event.ts)), dayCount: 2 },
      ]);
      // Each report read its catalog's days: the page views' start a day before the orders'.
      expect(daysInRanges(pageView?.dayRanges ?? [])).toContain(dayOfTime(today - 6 * DAY));
      expect(daysInRanges(order?.dayRanges ?? [])).not.toContain(dayOfTime(today - 6 * DAY));
      await expectExact(env.with([revenueV1, viewsPerPath]), events);
    });

    it("summarizes both catalogs' reports in the run's outcome, each with its horizon", async () => {
      // Prepare
      const { outcome } = await runOverBoth([revenueV1, viewsPerPath]);
      // Act
      const summary = outcome?.distantCopies;
      // Assess
      expect(summary).toEqual([
        { catalog: orderEvents.name, horizonDays: 1, ids: 1, listed: ['far'], error: null },
        { catalog: pageViewEvents.name, horizonDays: 3, ids: 1, listed: ['pv-far'], error: null },
      ]);
    });

    it('reports on no catalog that no view reads, whatever its archive holds', async () => {
      // Prepare
      const { order, pageView, outcome } = await runOverBoth([revenueV1]);
      // Act
      const summary = outcome?.distantCopies;
      // Assess
      expect(summary).toEqual([expect.objectContaining({ catalog: orderEvents.name, ids: 1 })]);
      expect(order?.listed.map((entry) => entry.id)).toEqual(['far']);
      expect(pageView).toBeNull();
    });
  });

  describe('with more distant copies than a report lists', () => {
    /** 105 ids with copies 3 days apart, and one id on a day in every two over 70 days. */
    const many: Order[] = Array.from({ length: 105 }, (_, index) =>
      [today - 5 * DAY, today - 2 * DAY].map((day) => ({
        id: `many-${String(index).padStart(3, '0')}`,
        ts: day + index * 60_000,
        amount: 100,
        status: 'paid',
      })),
    ).flat();
    const everyOtherDay: Order[] = Array.from({ length: 35 }, (_, index) => ({
      id: 'a-resent-often',
      ts: today - (70 - 2 * index) * DAY + HOUR,
      amount: 100,
      status: 'paid',
    }));

    async function runOverMany() {
      const env = await setUp([demoViews[0] as ViewDefinition]);
      await env.send([...many, ...everyOtherDay]);
      await runBatch(env.deps, { input: { runId: 'run-many' } });
      const [report] = await env.deps.store.latestDataQualityReports(orderEvents.name, 1);
      return { env, report };
    }

    it('lists the first 100 ids by id, and counts them all', async () => {
      // Prepare
      const { report } = await runOverMany();
      // Act
      const ids = report?.listed.map((entry) => entry.id);
      // Assess
      expect(report?.ids).toBe(106);
      expect(ids).toEqual(['a-resent-often', ...[...new Set(many.map((order) => order.id))].slice(0, 99)]);
    });

    it("lists an id's first 31 days, and counts them all", async () => {
      // Prepare
      const { report } = await runOverMany();
      // Act
      const often = report?.listed.find((entry) => entry.id === 'a-resent-often');
      // Assess
      expect(often).toEqual({
        id: 'a-resent-often',
        days: everyOtherDay.slice(0, 31).map((order) => dayOfTime(order.ts)),
        dayCount: 35,
      });
    });
  });
});

/**
 * A deterministic string of CJK ideographs: 3 bytes each in UTF-8 and random enough that gzip cannot
 * shrink it much, so the catalog's longest group values make the largest batch rows they can.
 */
function ideographs(seed: number, length: number): string {
  let state = (seed * 2_654_435_761 + 1) % 2_147_483_648;
  let text = '';
  for (let index = 0; index < length; index++) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    text += String.fromCodePoint(0x4e00 + Math.floor((state / 2_147_483_648) * 20_992));
  }
  return text;
}

describe('batch layer: long group values', () => {
  const order = fieldsOf(orderEvents);
  /**
   * 6,000 groups in one day, each of the longest values the catalog allows (events.ts: customer and
   * product 32 characters, country 16) in 3-byte characters: 4,000 such rows gzip to over 400 KB.
   */
  const byCustomer = defineView(orderEvents, {
    name: 'by_customer',
    version: 1,
    bucket: 'hour',
    groupBy: ['customer', 'product', 'country'],
    measures: { revenue: sum(order.amount), orders: count() },
  });
  const orders = Array.from({ length: 6_000 }, (_, index) => ({
    id: `c${index}`,
    ts: today - DAY + (index % 24) * HOUR + index,
    customer: ideographs(3 * index, 32),
    product: ideographs(3 * index + 1, 32),
    country: ideographs(3 * index + 2, 16),
    amount: 100 + index,
    status: 'paid',
  })) as Order[];
  let env: Awaited<ReturnType<typeof setUp>>;
  let run: Error | null;
  const writes: WriteRequest[][] = [];

  beforeAll(async () => {
    env = await setUp([byCustomer]);
    for (let start = 0; start < orders.length; start += 500) await env.send(orders.slice(start, start + 500));
    fixture.dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'BatchWriteItemCommand') {
          const input = args.input as { RequestItems: Record<string, WriteRequest[]> };
          writes.push(...Object.values(input.RequestItems));
        }
        return next(args);
      },
      { step: 'initialize', name: 'recordBatchWrites' },
    );
    try {
      run = await runBatch(env.deps).then(
        () => null,
        (error: Error) => error,
      );
    } finally {
      fixture.dynamo.middlewareStack.remove('recordBatchWrites');
    }
  }, 120_000);
  afterAll(() => env.close());

  it('loads and serves thousands of long group values exactly', async () => {
    // Prepare
    const { manifest, rows } = await served(env.deps, byCustomer);
    // Act
    const expected = sorted(exact(byCustomer, orders, manifest?.watermark ?? 0));
    // Assess
    expect(run).toBeNull();
    expect(rows).toHaveLength(6_000);
    expect(rows).toEqual(expected);
  });

  it("writes within DynamoDB's limits: items under 400 KB, BatchWriteItem calls of 25 items and 16 MB", () => {
    // Prepare
    const calls = writes.filter((requests) => requests.some((request) => request.PutRequest));
    // Act
    const itemSizes = calls.flat().map((request) => measuredBytes(request.PutRequest?.Item ?? {}));
    const callSizes = calls.map((requests) =>
      requests.reduce((total, request) => total + measuredBytes(request.PutRequest?.Item ?? {}), 0),
    );
    // Assess
    expect(itemSizes.length).toBeGreaterThan(1);
    expect(Math.max(...itemSizes)).toBeLessThanOrEqual(400 * 1024);
    expect(Math.max(...calls.map((requests) => requests.length))).toBeLessThanOrEqual(25);
    expect(Math.max(...callSizes)).toBeLessThanOrEqual(16 * 1024 * 1024);
  });
});

/** An item's size as DynamoDB counts it: names and values in UTF-8, binaries raw, numbers at most their text. */
function measuredBytes(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce((total, [name, value]) => {
    const bytes =
      value.S !== undefined
        ? Buffer.byteLength(value.S)
        : value.B !== undefined
          ? value.B.byteLength
          : value.N !== undefined
            ? value.N.length
            : Number.POSITIVE_INFINITY; // not written by the batch layer: fail loudly
    return total + Buffer.byteLength(name) + bytes;
  }, 0);
}

describe('batch layer: payloads that do not grow with history', () => {
  const revenue = demoViews[0] as ViewDefinition;

  /** The plan of a run over `days` days of history, every other one marked since the last run started. */
  async function planOver(env: Awaited<ReturnType<typeof setUp>>, days: number) {
    const lastRunStartedAt = Date.now() - HOUR;
    const history = Array.from({ length: days }, (_, index) =>
      new Date(today - (index + 1) * DAY).toISOString().slice(0, 10),
    );
    const manifest: Manifest = {
      view: revenue.name,
      version: revenue.version,
      revision: 1,
      watermark: today,
      days: Object.fromEntries(history.map((day) => [day, 'run-before'])),
      lastRunId: 'run-before',
      lastRunStartedAt,
      committedAt: lastRunStartedAt,
    };
    const table = await fixture.newTable();
    const store = new DynamoBatchStore(fixture.dynamo, table, catalogs);
    await store.commitManifest(manifest, 0);
    // Marked as the marker marks: every other day last marked since the last run started.
    const limit = pLimit(8);
    await Promise.all(
      history.map((day, index) =>
        limit(() => {
          const markedAt = index % 2 === 0 ? lastRunStartedAt + 1 : lastRunStartedAt - 1;
          return store.markArchiveDay(orderEvents.name, day, markedAt, markedAt);
        }),
      ),
    );
    const planned = await plan({ ...env.deps, store, views: [revenue] }, { now: today + 2 * HOUR });
    return { planned, progress: await store.getProgress(revenue.name, revenue.version) };
  }

  it('plans ten years of scattered late days in a payload no larger than for one year', async () => {
    // Prepare
    const env = await setUp([revenue]);
    const oneYear = await planOver(env, 365);
    // Act
    const tenYears = await planOver(env, 3_650);
    // Assess
    // Every other day changed, and each marks the day after it (the dedupe horizon): every day.
    expect(tenYears.progress?.daysTotal).toBe(3_650);
    expect(JSON.stringify(tenYears.planned).length).toBeLessThanOrEqual(
      JSON.stringify(oneYear.planned).length + 16,
    );
  }, 60_000);

  it('recomputes every dirty day of a scattered history exactly, no load over its days per load', async () => {
    // Prepare: 80 days of history, then late events on every other day: 40 separate dirty days
    const env = await setUp([revenue]);
    const orders = ordersOver(80, 2);
    await env.send(orders);
    await runBatch(env.deps);
    const late: Order[] = Array.from({ length: 40 }, (_, index) => ({
      id: `late-${index}`,
      ts: today - (2 * index + 1) * DAY + HOUR,
      country: 'US',
      amount: 7 + index,
      status: 'paid',
    }));
    await env.send(late);
    const loads: ViewPlan[] = [];
    // Act
    await runBatch(env.deps, { onTask: (state, input) => loadedBy(loads, state, input) });
    // Assess
    expect(loads.every((load) => load.dayRanges.length <= MAX_DAY_RANGES)).toBe(true);
    expect(Math.max(...loads.map((load) => load.dayCount))).toBeLessThanOrEqual(env.deps.daysPerLoad);
    const days = new Set(loads.flatMap((load) => daysInRanges(load.dayRanges)));
    expect(late.every((order) => days.has(new Date(order.ts).toISOString().slice(0, 10)))).toBe(true);
    await expectExact(env.deps, [...orders, ...late]);
  });
});

/** Collects the view plan of each Load task a run executes. */
function loadedBy(loads: ViewPlan[], state: string, input: unknown) {
  if (state === BATCH_STATES.load) loads.push((input as LoadInput).view);
}

const dayName = (ts: number) => new Date(ts).toISOString().slice(0, 10);

describe('batch layer: dirty days from the archive markers', () => {
  it('plans and runs without listing the archive', async () => {
    // Prepare
    const env = await setUp();
    const orders = ordersOver(3, 10);
    await env.send(orders);
    await runBatch(env.deps);
    const late: Order = { id: 'late', ts: today - 2 * DAY + HOUR, country: 'FR', amount: 9, status: 'paid' };
    await env.send([late]);
    // Act
    await runBatch(env.deps);
    // Assess
    expect(env.listings).toEqual([]);
    await expectExact(env.deps, [...orders, late]);
  });

  it("marks each catalog's day the archive receives an object, from S3's Object Created event through the template's rule", async () => {
    // Prepare
    const env = await setUp();
    const days = [dayName(today - 3 * DAY), dayName(today - DAY)];
    // Act
    for (const day of days)
      await env.archive.put(`${archiveDayPrefix('order', day)}delivery-1.gz`, gzipSync('{}\n'));
    await env.archive.put(`${archiveDayPrefix('order', days[0] as string)}delivery-2.gz`, gzipSync('{}\n'));
    await env.archive.put(
      `${archiveDayPrefix('page_view', days[1] as string)}delivery-3.gz`,
      gzipSync('{}\n'),
    );
    // The layout before several catalogs: no table reads it, so no day is marked for it.
    await env.archive.put(`events/dt=${dayName(today - 2 * DAY)}/delivery-4.gz`, gzipSync('{}\n'));
    // Assess
    expect(await env.deps.store.archiveDays('order', '', '9999-12-31')).toEqual(days);
    expect(await env.deps.store.archiveDays('page_view', '', '9999-12-31')).toEqual([days[1]]);
  });

  it('marks no day for objects outside events/, such as Firehose errors', async () => {
    // Prepare
    const env = await setUp();
    // Act
    await env.archive.put(`errors/processing-failed/${dayName(today)}/delivery-1.gz`, gzipSync('{}\n'));
    // Assess
    expect(await env.deps.store.archiveDays('order', '', '9999-12-31')).toEqual([]);
  });

  it('recomputes a day whose object was announced after the last run started, however old the object', async () => {
    // Prepare: a committed run, then an object whose S3 time is before that run (a slow delivery)
    const env = await setUp([demoViews[0] as ViewDefinition]);
    const orders = ordersOver(3, 10);
    await env.send(orders);
    await runBatch(env.deps);
    const started = (await env.deps.store.getManifest('revenue'))?.lastRunStartedAt as number;
    const late: Order = { id: 'slow', ts: today - 2 * DAY + HOUR, country: 'DE', amount: 11, status: 'paid' };
    const key = `${archiveDayPrefix(orderEvents.name, dayName(late.ts))}slow-delivery.gz`;
    await env.archive.put(key, gzipSync(`${JSON.stringify(late)}\n`));
    const file = join(env.archiveDir, ...key.split('/'));
    await utimes(file, new Date(started - HOUR), new Date(started - HOUR));
    // Act
    await runBatch(env.deps);
    // Assess
    await expectExact(env.deps, [...orders, late]);
  });

  it("marks days with only the marker function's grant in AWS (UpdateItem on the table)", async () => {
    // Prepare
    const { template: synthesized } = synthesizeStack();
    const granted = policyStatements(synthesized)
      .filter(({ source }) => source.startsWith('BatchArchiveMarkerFunctionRole'))
      .flatMap(({ statement }) => [statement.Action ?? []].flat())
      .filter((action) => action.startsWith('dynamodb:'));
    const env = await setUp();
    const called = new Set<string>();
    fixture.dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        called.add(`dynamodb:${context.commandName?.replace(/Command$/, '')}`);
        return next(args);
      },
      { step: 'initialize', name: 'recordMarkerActions' },
    );
    // Act
    try {
      await env.archive.put(
        `${archiveDayPrefix(orderEvents.name, dayName(today - DAY))}delivery-1.gz`,
        gzipSync('{}\n'),
      );
    } finally {
      fixture.dynamo.middlewareStack.remove('recordMarkerActions');
    }
    // Assess
    expect([...called]).toEqual(['dynamodb:UpdateItem']);
    expect(granted).toEqual(['dynamodb:UpdateItem']);
  });
});

describe('batch layer: a backfill runs day by day and resumes', () => {
  const [v1, v2] = [revenueV1, revenueV2];
  const history = Array.from({ length: 6 }, (_, index) => dayName(today - (6 - index) * DAY));

  /** Six days committed as v1, then v2 deployed: its backfill loads two days at a time. */
  async function deployV2(loadsPerRun?: number, countingSince: number | null = Date.now() - 2 * HOUR) {
    const env = await setUp([v1]);
    const orders = ordersOver(6, 8);
    await env.send(orders);
    await runBatch(env.deps, { input: { now: Date.now() - 8 * HOUR } });
    // The speed layer counts v2 from `countingSince` (null: not yet): a switch waits for it.
    if (countingSince !== null)
      await env.deps.store.definitions.register(v2, countingSince, { counting: true });
    const fixed: BatchDeps = {
      ...env.with([v2]),
      daysPerLoad: 2,
      loadsPerRun: loadsPerRun ?? env.deps.loadsPerRun,
    };
    return { env, orders, fixed };
  }

  /** A run of `deps`, with the days of each of its loads. */
  async function loadsOf(deps: BatchDeps, runId?: string) {
    const loads: ViewPlan[] = [];
    const run = await runBatch(deps, {
      ...(runId ? { input: { runId } } : {}),
      onTask: (state, input) => loadedBy(loads, state, input),
    }).then(
      () => null,
      (error: Error) => error,
    );
    return { run, days: loads.map((load) => daysInRanges(load.dayRanges)) };
  }

  it('loads a backfill at most its days per load at a time, in day order', async () => {
    // Prepare
    const { env, orders, fixed } = await deployV2();
    // Act
    const { run, days } = await loadsOf(fixed);
    // Assess
    expect(run).toBeNull();
    expect(days).toEqual([history.slice(0, 2), history.slice(2, 4), history.slice(4, 6)]);
    expect((await env.deps.store.getManifest('revenue'))?.version).toBe(2);
    await expectExact(fixed, orders);
  });

  it('resumes a failed backfill after the last day it loaded', async () => {
    // Prepare: the third load fails, once
    const { orders, fixed } = await deployV2();
    const store = fixed.store;
    const failing = Object.create(store) as DynamoBatchStore;
    failing.writeDay = async (...args) => {
      if (args[2] === history[4]) throw new Error('injected: DynamoDB unavailable');
      return store.writeDay(...args);
    };
    const failed = await loadsOf({ ...fixed, store: failing });
    // Act
    const resumed = await loadsOf(fixed);
    // Assess
    expect(failed.run).not.toBeNull();
    expect(resumed.run).toBeNull();
    expect(resumed.days).toEqual([history.slice(4, 6)]);
    await expectExact(fixed, orders);
  });

  it("records how far a failed backfill came in the run's outcome", async () => {
    // Prepare
    const { env, fixed } = await deployV2();
    const store = fixed.store;
    const failing = Object.create(store) as DynamoBatchStore;
    failing.writeDay = async (...args) => {
      if (args[2] === history[4]) throw new Error('injected: DynamoDB unavailable');
      return store.writeDay(...args);
    };
    // Act
    await loadsOf({ ...fixed, store: failing }, 'run-failed-backfill');
    // Assess
    const [outcome] = (await env.deps.store.runOutcome('run-failed-backfill'))?.views ?? [];
    expect(outcome).toMatchObject({
      view: 'revenue',
      status: 'failed',
      step: 'Load',
      backfill: { version: 2, daysDone: 4, daysTotal: 6, loadedThrough: history[3] },
    });
  });

  it('serves the previous version, whole, while a backfill is under way', async () => {
    // Prepare: one load per run, so the backfill takes three runs
    const { env, orders, fixed } = await deployV2(1);
    const before = await served(env.deps, v1);
    // Act
    const { run } = await loadsOf(fixed);
    // Assess
    expect(run).toBeNull();
    expect(await served(env.deps, v1)).toEqual(before);
    expect(before.rows).toEqual(sorted(exact(v1, orders, before.manifest?.watermark ?? 0)));
  });

  it("shows a backfill's progress in the run's outcome: days done of the total", async () => {
    // Prepare
    const { env, fixed } = await deployV2(1);
    // Act
    await loadsOf(fixed, 'run-part');
    // Assess
    const [outcome] = (await env.deps.store.runOutcome('run-part'))?.views ?? [];
    expect(outcome).toMatchObject({
      view: 'revenue',
      status: 'backfilling',
      days: 2,
      backfill: { version: 2, daysDone: 2, daysTotal: 6, loadedThrough: history[1] },
    });
    expect(await env.deps.store.viewProgress('revenue', 2)).toMatchObject({
      runId: 'run-part',
      backfill: true,
      daysDone: 2,
      daysTotal: 6,
      committedAt: null,
    });
  });

  it('goes on over the next runs, keeping what it loaded through clean-up, then serves the new version', async () => {
    // Prepare: clean-up runs with no grace after every run
    const { env, orders, fixed } = await deployV2(1);
    // Act
    const runs = [await loadsOf(fixed), await loadsOf(fixed), await loadsOf(fixed)];
    // Assess
    expect(runs.map(({ days }) => days)).toEqual([
      [history.slice(0, 2)],
      [history.slice(2, 4)],
      [history.slice(4, 6)],
    ]);
    expect((await env.deps.store.getManifest('revenue'))?.version).toBe(2);
    await expectExact(fixed, orders);
  });

  it('reloads the days a resumed backfill loaded that changed since it began', async () => {
    // Prepare: the first run loads two days; then a late event on the first of them
    const { env, orders, fixed } = await deployV2(1);
    await loadsOf(fixed);
    const late: Order = {
      id: 'late',
      ts: Date.parse(history[0] as string) + HOUR,
      amount: 3,
      status: 'paid',
    };
    await env.send([late]);
    // Act
    const resumed = await loadsOf(fixed);
    await loadsOf(fixed);
    await loadsOf(fixed);
    // Assess
    // The changed day and the day after it (the dedupe horizon) first, then the backfill goes on.
    expect(resumed.days).toEqual([[history[0], history[1]]]);
    await expectExact(fixed, [...orders, late]);
  });

  it('serves the previous version, whole, until a speed function has counted the new one, saying why', async () => {
    // Prepare: every day loads in one run, but no speed function has counted v2
    const { env, orders, fixed } = await deployV2(undefined, null);
    const before = await served(env.deps, v1);
    // Act
    await loadsOf(fixed, 'run-unseen');
    // Assess
    const [outcome] = (await env.deps.store.runOutcome('run-unseen'))?.views ?? [];
    expect(outcome).toMatchObject({
      view: 'revenue',
      status: 'backfilling',
      backfill: { version: 2, daysDone: 6, daysTotal: 6 },
      awaitingSpeed: { countingSince: null, switchFrom: null },
    });
    expect(await served(env.deps, v1)).toEqual(before);
    // and once the speed layer has counted v2 from before the watermark, the next run switches
    await env.deps.store.definitions.register(v2, Date.now() - 2 * HOUR, { counting: true });
    await loadsOf(fixed);
    expect((await env.deps.store.getManifest('revenue'))?.version).toBe(2);
    await expectExact(fixed, orders);
  });

  it('switches at the first watermark at or past the bucket in which the speed counting of v2 began', async () => {
    // Prepare: the speed layer began counting v2 a millisecond into the last hour
    const thisHour = Date.now() - (Date.now() % HOUR);
    const countingSince = thisHour - HOUR + 1;
    const { env, orders, fixed } = await deployV2(undefined, countingSince);
    // Act: a run whose watermark is the last hour's start, then one whose watermark is this hour's
    await runBatch(fixed, { input: { now: thisHour - 1, runId: 'run-last-hour' } });
    const waiting = await env.deps.store.getManifest('revenue');
    await runBatch(fixed, { input: { now: thisHour, runId: 'run-this-hour' } });
    // Assess
    const [outcome] = (await env.deps.store.runOutcome('run-last-hour'))?.views ?? [];
    expect(outcome).toMatchObject({
      status: 'backfilling',
      awaitingSpeed: { countingSince, switchFrom: thisHour },
    });
    expect(waiting?.version).toBe(1);
    const switched = await env.deps.store.getManifest('revenue');
    expect(switched).toMatchObject({ version: 2, watermark: thisHour, replacedVersion: 1 });
    // What the speed layer reads every refresh, alone: it counts v1 for the rollback retention from then on
    expect(await env.deps.store.manifestVersions('revenue')).toEqual({
      version: 2,
      replacedVersion: 1,
      switchedAt: switched?.switchedAt,
    });
    expect(switched?.switchedAt).toBe(switched?.committedAt);
    await expectExact(fixed, orders);
  });

  it("waits the stage's switch margin past the counting start: old code may still count v1 alone", async () => {
    // Prepare: the speed layer began counting v2 a minute before this hour, within the margin of it
    const thisHour = Date.now() - (Date.now() % HOUR);
    const countingSince = thisHour - 60_000;
    const { env, fixed } = await deployV2(undefined, countingSince);
    // Act: a run whose watermark is this hour's start, past countingSince but not past it plus the margin
    await runBatch(fixed, { input: { now: thisHour, runId: 'run-within-margin' } });
    // Assess
    expect(fixed.definitionSwitchMarginMs).toBe(180_000);
    const [outcome] = (await env.deps.store.runOutcome('run-within-margin'))?.views ?? [];
    expect(outcome).toMatchObject({
      status: 'backfilling',
      awaitingSpeed: { countingSince, switchFrom: thisHour + HOUR, watermark: thisHour },
    });
    expect((await env.deps.store.getManifest('revenue'))?.version).toBe(1);
  });

  it('ends the run failed while the served version no longer builds, and goes on with the backfill that ends it', async () => {
    // Prepare: v1 was stored over a catalog with a field the orders' catalog no longer has (`ordersWithCoupon`)
    const env = await setUp([v1]);
    const storedV1 = defineView(ordersWithCoupon, {
      name: 'revenue',
      version: 1,
      where: fieldsOf(ordersWithCoupon).coupon.eq('SPRING'),
      bucket: 'hour',
      groupBy: [],
      measures: { orders: count() },
    });
    await env.deps.store.definitions.register(storedV1, Date.now() - 9 * HOUR, { counting: false });
    const orders = ordersOver(6, 8);
    await env.send(orders);
    await runBatch(env.deps, { input: { now: Date.now() - 8 * HOUR } });
    await env.deps.store.definitions.register(v2, Date.now() - 2 * HOUR, { counting: true });
    // Act
    const failure = await runBatch(env.with([v2]), { input: { runId: 'run-unservable' } }).then(
      () => null,
      (error: Error & { cause?: Error }) => error,
    );
    // Assess: failed loudly, saying why; the backfill committed, so v2 is served from now on
    expect(failure?.cause?.name).toBe(RUN_INCOMPLETE_ERROR);
    expect(failure?.message).toMatch(
      /revenue cannot be served: the stored definition of revenue v1 no longer builds/,
    );
    expect((await env.deps.store.getManifest('revenue'))?.version).toBe(2);
    await expectExact(env.with([v2]), orders);
  });
});

describe('batch layer: a century of days within DynamoDB’s item limit', () => {
  // The catalog accepts event times from 2000 to 2100: a user can give a view a day of history each.
  const century = Array.from({ length: 36_525 }, (_, index) => dayOf(Date.UTC(2000, 0, 1) + index * DAY));

  it('commits and reads a manifest whose day map covers every day of the catalog’s time range', async () => {
    // Prepare
    const store = new DynamoBatchStore(fixture.dynamo, await fixture.newTable(), catalogs);
    const runIds = Array.from(
      { length: 60 },
      (_, index) => `run-20261130T0000${String(index).padStart(2, '0')}000Z-abcdef`,
    );
    const manifest: Manifest = {
      view: 'revenue',
      version: 1,
      revision: 1,
      watermark: Date.UTC(2100, 0, 1),
      days: Object.fromEntries(century.map((day, index) => [day, runIds[index % runIds.length] as string])),
      lastRunId: runIds[0] as string,
      lastRunStartedAt: 1,
      committedAt: 2,
    };
    // Act
    await store.commitManifest(manifest, 0);
    // Assess
    expect(await store.getManifest('revenue')).toEqual(manifest);
  });

  it('records a backfill loading every day of the catalog’s time range, 31 days a load', async () => {
    // Prepare
    const store = new DynamoBatchStore(fixture.dynamo, await fixture.newTable(), catalogs);
    await store.startProgress({
      view: 'revenue',
      version: 2,
      runId: 'run-a',
      backfill: true,
      startedAt: 1,
      daysTotal: century.length,
      now: 1,
    });
    // Act
    for (let first = 0; first < century.length; first += 31) {
      const days = century.slice(first, first + 31);
      await store.recordLoaded('revenue', 2, 'run-a', days, { loadedThrough: days.at(-1) as string }, 2);
    }
    // Assess
    const progress = await store.getProgress('revenue', 2);
    expect(Object.keys(progress?.days ?? {})).toHaveLength(century.length);
    expect(new Set(Object.values(progress?.days ?? {}))).toEqual(new Set(['run-a']));
  }, 120_000);
});
