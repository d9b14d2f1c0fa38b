import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import { DynamoBatchStore, type Manifest } from '../../functions/adapters/dynamo-batch-store';
import { DynamoSpeedStore } from '../../functions/adapters/dynamo-speed-store';
import { FileObjectStore } from '../../functions/adapters/object-store';
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
import { registryOver, SERVED_VERSIONS_REFRESH_MS } from '../../functions/speed/counted-views';
import { SpeedProcessor } from '../../functions/speed/processor';
import { Quarantine } from '../../functions/speed/quarantine';
import { tempDir } from '../support/archive';
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
const v2 = defineView(orderEvents, {
  name: 'paid_revenue',
  version: 2,
  where: order.status.eq('paid'),
  bucket: 'minute',
  groupBy: ['country'],
  measures: { revenue: sum(order.amount.minus(coalesce(order.discount, 0))), orders: count() },
});

let fixture: Awaited<ReturnType<typeof startFixture>>;
beforeAll(async () => {
  fixture = await startFixture();
});
afterAll(() => fixture.close());

const BUCKET = Date.UTC(2026, 10, 25, 9, 30);
let sequence = 0;

/** A batch of `n` paid orders of 1,000 cents less a 100-cent discount, in one minute. */
const ordersEvent = (prefix: string, n: number) =>
  kinesisEvent(
    Array.from({ length: n }, (_, index) =>
      kinesisRecord({
        shardId: 'shardId-000000000000',
        sequenceNumber: sequenceNumber(sequence++),
        data: JSON.stringify({
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
  const batch = new DynamoBatchStore(fixture.dynamo, table);
  const speed = new DynamoSpeedStore(fixture.dynamo, table);
  let clock = BUCKET + MINUTE;
  const processor = (views: readonly ViewDefinition[]) =>
    new SpeedProcessor({
      catalog: orderEvents,
      views,
      store: speed,
      quarantine: new Quarantine(new FileObjectStore(dir)),
      logger: quietLogger(),
      metrics: quietMetrics(),
      retentionMs: 1_000 * 24 * 3_600_000,
      now: () => clock,
      registry: registryOver(batch),
    });
  const dir = await tempDir('definition-registry');
  /** Each version's totals in the minute, as the speed items hold them. */
  const counted = async (view: ViewDefinition) =>
    (await speed.readRows(view, BUCKET, BUCKET + MINUTE, BUCKET))[0]?.values ?? null;
  const manifest = (version: number, revision: number): Manifest => ({
    view: 'paid_revenue',
    version,
    revision,
    watermark: BUCKET,
    days: {},
    lastRunId: `run-${revision}`,
    lastRunStartedAt: clock,
    committedAt: clock,
  });
  return {
    batch,
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
    expect(await batch.definitions.view('paid_revenue', 2, orderEvents)).toEqual(v2);
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
