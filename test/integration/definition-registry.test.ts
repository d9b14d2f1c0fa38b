import type { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { catalogs, orderEvents } from '../../events';
import { DynamoBatchStore, type Manifest } from '../../functions/adapters/dynamo-batch-store';
import { DynamoSpeedStore } from '../../functions/adapters/dynamo-speed-store';
import { FileObjectStore } from '../../functions/adapters/object-store';
import { ViewReader } from '../../functions/api/view-reader';
import { SPEED_METRICS } from '../../functions/commons/metrics';
import {
  coalesce,
  count,
  defineView,
  definitionHash,
  fieldsOf,
  sum,
  type ViewDefinition,
  viewDocument,
} from '../../functions/core';
import {
  CountedViews,
  registryOver,
  SERVED_VERSIONS_REFRESH_MS,
  type ViewRegistry,
} from '../../functions/speed/counted-views';
import { SpeedProcessor } from '../../functions/speed/processor';
import { Quarantine } from '../../functions/speed/quarantine';
import { tempDir } from '../support/archive';
import { ordersWithCoupon } from '../support/events';
import { quietLogger, quietMetrics, startFixture } from '../support/fixture';
import { kinesisEvent, kinesisRecord, sequenceNumber } from '../support/kinesis-factory';

const MINUTE = 60_000;
const order = fieldsOf(orderEvents);
const v1 = defineView(orderEvents, {
  name: 'paid_revenue',
  version: 1,
  where: order.status.eq('paid'),
  bucket: 'minute',
  groupBy: ['country'],
  measures: { revenue: sum(order.amount), orders: count() },
});
const viewSpecOf = (version: number) =>
  ({
    name: 'paid_revenue',
    version,
    where: order.status.eq('paid'),
    bucket: 'minute',
    groupBy: ['country'],
    measures: { revenue: sum(order.amount.minus(coalesce(order.discount, 0))), orders: count() },
  }) as const;
const v2 = defineView(orderEvents, viewSpecOf(2));

let fixture: Awaited<ReturnType<typeof startFixture>>;
beforeAll(async () => {
  fixture = await startFixture();
});
afterAll(() => fixture.close());

const BUCKET = Date.UTC(2026, 10, 25, 9, 30);
const ROLLBACK_RETENTION_MS = 7 * 86_400_000;
let sequence = 0;

/** A batch of `n` paid orders of 1,000 cents less a 100-cent discount, in one minute. */
const ordersEvent = (prefix: string, n: number) =>
  kinesisEvent(
    Array.from({ length: n }, (_, index) =>
      kinesisRecord({
        shardId: 'shardId-000000000000',
        sequenceNumber: sequenceNumber(sequence++),
        data: JSON.stringify({
          type: 'order',
          id: `${prefix}-${index}`,
          ts: BUCKET + index,
          country: 'US',
          amount: 1_000,
          discount: 100,
          status: 'paid',
        }),
      }),
    ),
  );

async function setUp() {
  const table = await fixture.newTable();
  const batch = new DynamoBatchStore(fixture.dynamo, table, catalogs);
  const speed = new DynamoSpeedStore(fixture.dynamo, table);
  let clock = BUCKET + MINUTE;
  const registry = registryOver(batch, { rollbackRetentionMs: ROLLBACK_RETENTION_MS });
  const processor = (
    views: readonly ViewDefinition[],
    options: { registry?: ViewRegistry; metrics?: Metrics } = {},
  ) =>
    new SpeedProcessor({
      catalogs,
      views,
      store: speed,
      quarantine: new Quarantine(new FileObjectStore(dir)),
      logger: quietLogger(),
      metrics: options.metrics ?? quietMetrics(),
      retentionMs: 1_000 * 24 * 3_600_000,
      now: () => clock,
      registry: options.registry ?? registry,
    });
  const dir = await tempDir('definition-registry');
  /** Each version's totals in the minute, as the speed items hold them. */
  const counted = async (view: ViewDefinition) =>
    (await speed.readRows(view, BUCKET, BUCKET + MINUTE, BUCKET))[0]?.values ?? null;
  const manifest = (version: number, revision: number, replacedVersion?: number): Manifest => ({
    view: 'paid_revenue',
    version,
    revision,
    watermark: BUCKET,
    days: {},
    lastRunId: `run-${revision}`,
    lastRunStartedAt: clock,
    committedAt: clock,
    ...(replacedVersion === undefined ? {} : { replacedVersion, switchedAt: clock }),
  });
  const countingSince = async (version: number) =>
    (await batch.definitions.get('paid_revenue', version))?.countingSince ?? null;
  return {
    batch,
    speed,
    registry,
    countingSince,
    processor,
    counted,
    manifest,
    advance: (ms: number) => {
      clock += ms;
      return clock;
    },
  };
}

describe('the definition registry and the speed layer', () => {
  it('registers a version before counting it, with when the counting began, once', async () => {
    // Prepare
    const { batch, processor, advance } = await setUp();
    const firstAt = advance(0);
    // Act: a speed function counts a first batch; later another one starts and counts
    await processor([v2]).process(ordersEvent('a', 3));
    advance(5 * MINUTE);
    await processor([v2]).process(ordersEvent('b', 3));
    // Assess
    expect(await batch.definitions.get('paid_revenue', 2)).toEqual({
      document: JSON.parse(JSON.stringify(viewDocument(v2))),
      definitionHash: definitionHash(v2),
      registeredAt: firstAt,
      countingSince: firstAt,
    });
    expect(await batch.definitions.definitionOf(v1, 2)).toEqual({
      view: v2,
      definitionHash: definitionHash(v2),
      error: null,
    });
  });

  it('a plan registers a version without saying speed counts it', async () => {
    // Prepare
    const { batch } = await setUp();
    // Act
    await batch.definitions.register(v1, 7, { counting: false });
    await batch.definitions.register(v1, 9, { counting: true });
    // Assess
    expect(await batch.definitions.get('paid_revenue', 1)).toMatchObject({
      registeredAt: 7,
      countingSince: 9,
    });
    expect(await batch.definitions.get('paid_revenue', 3)).toBeNull();
  });

  it('counts the served previous version beside the new one until the manifest switches, then only the new one', async () => {
    // Prepare: v1 counted and committed; the code moves to v2
    const { batch, processor, counted, manifest, advance } = await setUp();
    await processor([v1]).process(ordersEvent('before', 2));
    await batch.commitManifest(manifest(1, 1), 0);
    const speed = processor([v2]);
    // Act: a batch while v1 is served, then the switch, then batches within and past the refresh time
    await speed.process(ordersEvent('pending', 3));
    const whilePending = { v1: await counted(v1), v2: await counted(v2) };
    await batch.commitManifest(manifest(2, 2), 1);
    await speed.process(ordersEvent('just-switched', 1));
    const v1BeforeRefresh = await counted(v1);
    advance(SERVED_VERSIONS_REFRESH_MS);
    await speed.process(ordersEvent('after', 4));
    // Assess: v1 counted every order until the switch was seen; v2 every order since its code ran
    expect(whilePending).toEqual({
      v1: { revenue: 5_000n, orders: 5n },
      v2: { revenue: 2_700n, orders: 3n },
    });
    expect(v1BeforeRefresh).toEqual({ revenue: 6_000n, orders: 6n });
    expect(await counted(v1)).toEqual(v1BeforeRefresh);
    expect(await counted(v2)).toEqual({ revenue: 7_200n, orders: 8n });
  });
});

describe('countingSince: counted without a gap since', () => {
  it('v1 replaced by v2 stays counted for the rollback retention, then is cleared; code back at v1 counts it anew', async () => {
    // Prepare: v1 counted and committed; v2 deployed and switched in
    const { batch, processor, counted, manifest, advance, countingSince } = await setUp();
    const v1Since = advance(0);
    await processor([v1]).process(ordersEvent('v1', 1));
    await batch.commitManifest(manifest(1, 1), 0);
    const speedV2 = processor([v2]);
    await speedV2.process(ordersEvent('pending', 1));
    await batch.commitManifest(manifest(2, 2, 1), 1);
    // Act: orders within the rollback retention after the switch, then past it, then code back at v1
    advance(SERVED_VERSIONS_REFRESH_MS);
    await speedV2.process(ordersEvent('within-retention', 1));
    const withinRetention = { since: await countingSince(1), v1: await counted(v1) };
    advance(ROLLBACK_RETENTION_MS);
    await speedV2.process(ordersEvent('past-retention', 1));
    const pastRetention = { since: await countingSince(1), v1: await counted(v1) };
    const revertedAt = advance(MINUTE);
    await processor([v1]).process(ordersEvent('reverted', 1));
    // Assess: v1 counted without a gap until the retention ended, then not counted, then counted anew
    expect(withinRetention).toEqual({ since: v1Since, v1: { revenue: 3_000n, orders: 3n } });
    expect(pastRetention).toEqual({ since: null, v1: { revenue: 3_000n, orders: 3n } });
    // A backfill of v1 now waits for a watermark past the revert: its speed items miss `past-retention`
    expect(await countingSince(1)).toBe(revertedAt);
    expect(await countingSince(2)).not.toBeNull();
  });

  it('v3 deployed before v2 switched clears v2; v2 deployed again counts it anew', async () => {
    // Prepare: v1 served, v2 counted beside it
    const { batch, processor, manifest, advance, countingSince } = await setUp();
    await processor([v1]).process(ordersEvent('v1', 1));
    await batch.commitManifest(manifest(1, 1), 0);
    const v2Since = advance(MINUTE);
    await processor([v2]).process(ordersEvent('v2', 1));
    const whileV2 = await countingSince(2);
    // Act: v3 replaces v2 before v2 switched; later v2 is deployed again
    advance(MINUTE);
    const v3 = defineView(orderEvents, viewSpecOf(3));
    await processor([v3]).process(ordersEvent('v3', 1));
    const whileV3 = { v1: await countingSince(1), v2: await countingSince(2), v3: await countingSince(3) };
    const againAt = advance(MINUTE);
    await processor([v2]).process(ordersEvent('v2-again', 1));
    // Assess: the served v1 counted throughout; v2 not while v3 ran, and from its new start on
    expect(whileV2).toBe(v2Since);
    expect(whileV3).toEqual({ v1: expect.any(Number), v2: null, v3: againAt - MINUTE });
    expect(await countingSince(2)).toBe(againAt);
    expect(await countingSince(3)).toBeNull();
  });
});

describe('a registry that fails', () => {
  /** The registry, with `method` failing while `failing()` holds. */
  const failingWhile = (
    registry: ViewRegistry,
    method: 'manifestVersions' | 'stopCounting',
    failing: () => boolean,
  ): ViewRegistry => ({
    ...registry,
    [method]: (...args: [string, number]) =>
      failing() ? Promise.reject(new Error(`${method} failed`)) : registry[method](...args),
  });

  it('fails the batch before the first refresh: the served version is not known yet', async () => {
    // Prepare: v1 served, v2 in the code, the manifest unreadable
    const { batch, processor, registry, manifest } = await setUp();
    await batch.commitManifest(manifest(1, 1), 0);
    const speed = processor([v2], { registry: failingWhile(registry, 'manifestVersions', () => true) });
    // Act, Assess
    await expect(speed.process(ordersEvent('unread', 1))).rejects.toThrow('manifestVersions failed');
  });

  it.each([
    ['a read', 'manifestVersions'],
    ['a mark write', 'stopCounting'],
  ] as const)(
    'after the first refresh, %s failing counts the batch as the last one, leaves the marks, says so and tries again next batch',
    async (_, method) => {
      // Prepare: v1 served and counted beside the code's v2; then v2 switches in without keeping v1
      const { batch, processor, registry, counted, manifest, advance, countingSince } = await setUp();
      await processor([v1]).process(ordersEvent('v1', 1));
      await batch.commitManifest(manifest(1, 1), 0);
      let failing = false;
      const metrics = quietMetrics();
      const published = vi.spyOn(metrics, 'addMetric');
      const speed = processor([v2], { registry: failingWhile(registry, method, () => failing), metrics });
      await speed.process(ordersEvent('served-v1', 1));
      const v1Since = await countingSince(1);
      await batch.commitManifest(manifest(2, 2), 1);
      // Act: a batch past the refresh time while the registry fails, then one once it answers again
      failing = true;
      advance(SERVED_VERSIONS_REFRESH_MS);
      const whileFailing = await speed.process(ordersEvent('failing', 1));
      const afterFailure = { v1: await counted(v1), since: await countingSince(1) };
      failing = false;
      await speed.process(ordersEvent('recovered', 1));
      // Assess: v1 counted through the failure with its mark kept, then dropped by the next batch's refresh
      expect(whileFailing).toEqual({ batchItemFailures: [] });
      expect(afterFailure).toEqual({ v1: { revenue: 3_000n, orders: 3n }, since: v1Since });
      expect(v1Since).not.toBeNull();
      expect(await counted(v1)).toEqual({ revenue: 3_000n, orders: 3n });
      expect(await countingSince(1)).toBeNull();
      expect(await counted(v2)).toEqual({ revenue: 2_700n, orders: 3n });
      const stale = published.mock.calls
        .filter(([name]) => name === SPEED_METRICS.countedViewsStale.name)
        .map(([, , value]) => value);
      expect(stale).toEqual([0, 1, 0]);
    },
  );
});

describe('a served version whose stored definition no longer builds', () => {
  const couponV1 = defineView(ordersWithCoupon, {
    name: 'paid_revenue',
    version: 1,
    where: fieldsOf(ordersWithCoupon).coupon.eq('SPRING'),
    bucket: 'minute',
    groupBy: [],
    measures: { revenue: sum(fieldsOf(ordersWithCoupon).amount) },
  });

  it('is not counted (the code version still is), is reported, and the API serves the code version from speed alone, naming the stored revision', async () => {
    // Prepare: the manifest serves v1, stored when the catalog had `coupon`; the code holds v2
    const { batch, speed, processor, counted, manifest, countingSince } = await setUp();
    await batch.definitions.register(couponV1, BUCKET, { counting: true });
    await batch.commitManifest(manifest(1, 1), 0);
    const views = new CountedViews({
      views: [v2],
      registry: registryOver(batch, { rollbackRetentionMs: ROLLBACK_RETENTION_MS }),
      logger: quietLogger(),
      now: () => BUCKET + MINUTE,
    });
    // Act
    const compiled = await views.current();
    await processor([v2]).process(ordersEvent('orders', 2));
    const served = await new ViewReader(batch, speed, 72 * 3_600_000).served(v2);
    // Assess
    expect(compiled.map(({ view }) => `${view.name} v${view.version}`)).toEqual(['paid_revenue v2']);
    expect(views.unbuildable).toBe(1);
    expect(await countingSince(1)).toBeNull();
    expect(await counted(v2)).toEqual({ revenue: 1_800n, orders: 2n });
    // The revision a rollback names: rolling back may be what serves the batch rows again.
    expect(served).toMatchObject({ view: v2, manifest: null, revision: 1, definitionHash: null });
    expect(served.problem).toMatch(
      /paid_revenue v1 no longer builds over the catalog.*v2 is served from the speed layer alone/,
    );
  });
});
