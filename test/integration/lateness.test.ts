import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { catalogs } from '../../events';
import { Manifests, packManifest } from '../../functions/adapters/batch-store/manifest';
import { DynamoBatchStore, type Manifest } from '../../functions/adapters/dynamo-batch-store';
import { DynamoSpeedStore } from '../../functions/adapters/dynamo-speed-store';
import { FileObjectStore } from '../../functions/adapters/object-store';
import { Table } from '../../functions/adapters/table';
import { SPEED_METRICS } from '../../functions/commons/metrics';
import { latenessItemKey, latenessPartition, manifestKey, padSequence } from '../../functions/core/keys';
import {
  type Exactness,
  emptyLatenessHistogram,
  emptyViewLateness,
  latenessHistogramOf,
  latenessSummary,
} from '../../functions/core/lateness';
import { LatenessRecorder, latenessRecorderOver } from '../../functions/speed/lateness';
import { SpeedProcessor } from '../../functions/speed/processor';
import { Quarantine } from '../../functions/speed/quarantine';
import { revenue, views } from '../../views';

/** The views the orders below count in: the order catalog's (page views count none of them). */
const orderViews = views.filter((view) => view.events.name === 'order');

import { quietLogger, quietMetrics, startFixture } from '../support/fixture';
import { kinesisEvent, kinesisRecord, sequenceNumber } from '../support/kinesis-factory';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOON = Date.UTC(2026, 10, 25, 12);
const ARRIVAL = Date.UTC(2026, 10, 25, 12, 30);

let fixture: Awaited<ReturnType<typeof startFixture>>;
beforeAll(async () => {
  fixture = await startFixture();
});
afterAll(() => fixture.close());

/** A speed processor recording lateness into a fresh table, every view's manifest saying `exactness`. */
async function processorWith(
  exactness: Exactness,
  options: { lateness?: (store: DynamoBatchStore) => LatenessRecorder } = {},
) {
  const table = await fixture.newTable();
  const store = new DynamoBatchStore(fixture.dynamo, table, catalogs);
  const speedStore = new DynamoSpeedStore(fixture.dynamo, table);
  const metrics = quietMetrics();
  const processor = new SpeedProcessor({
    catalogs,
    views,
    store: speedStore,
    quarantine: new Quarantine(new FileObjectStore('/nonexistent-quarantine')),
    logger: quietLogger(),
    metrics,
    retentionMs: 72 * 3_600_000,
    lateness:
      options.lateness?.(store) ??
      new LatenessRecorder({
        store: store.lateness,
        exactnessOf: async () => exactness,
        logger: quietLogger(),
      }),
  });
  return { processor, store, speedStore, metrics, table };
}

/** Paid orders, the n-th `lateMs[n]` late, arriving at ARRIVAL plus n ms, on one shard. */
const records = (lateMs: readonly number[], first = 0, shardId = 'shardId-000000000001') =>
  lateMs.map((late, index) => {
    const n = first + index;
    const arrivalMs = ARRIVAL + n;
    return kinesisRecord({
      shardId,
      sequenceNumber: sequenceNumber(n),
      data: JSON.stringify({
        type: 'order',
        id: `o${n}`,
        ts: arrivalMs - late,
        amount: 10,
        status: 'paid',
        country: 'FR',
      }),
      arrivalMs,
    });
  });

describe('the speed layer records lateness', () => {
  it('counts each event once per view it counts in, whatever the redeliveries, in items per view and arrival hour', async () => {
    // Prepare: the run that committed W 12:00 started at 12:10; the batch arrives at 12:30.
    const { processor, store } = await processorWith({
      watermark: NOON,
      lastRunStartedAt: NOON + 10 * MINUTE,
    });
    const lateness = [2 * MINUTE, 3 * MINUTE, 45 * MINUTE, 50 * MINUTE, 90 * MINUTE];
    const batch = records(lateness);

    // Act: the batch, the same batch again, then a redelivery from its fourth record with two new ones.
    await processor.process(kinesisEvent(batch));
    await processor.process(kinesisEvent(batch));
    await processor.process(kinesisEvent([...batch.slice(3), ...records([4 * MINUTE, 5 * MINUTE], 5)]));

    // Assess: the events 45, 50 and 90 minutes late have event times before noon, in both views' exact
    // buckets, and arrived after the run that made them exact started.
    const all = [...lateness, 4 * MINUTE, 5 * MINUTE];
    for (const view of orderViews) {
      expect(await store.lateness.read(view.name, ARRIVAL - HOUR, ARRIVAL + HOUR), view.name).toEqual({
        histogram: latenessHistogramOf(all),
        lateAfterExact: latenessHistogramOf([45 * MINUTE, 50 * MINUTE, 90 * MINUTE]),
      });
      expect(await store.lateness.read(view.name, ARRIVAL + HOUR, ARRIVAL + 2 * HOUR)).toEqual(
        emptyViewLateness(),
      );
    }
  });

  it('does not count as late after exact an event that arrived before the run committing W started', async () => {
    // Prepare: a speed backlog: the batch arrived at 12:30, the run committing W 12:00 started at 12:40.
    const { processor, store } = await processorWith({
      watermark: NOON,
      lastRunStartedAt: NOON + 40 * MINUTE,
    });

    // Act
    await processor.process(kinesisEvent(records([45 * MINUTE])));

    // Assess: that run read the event from the archive: it is exact, not restated.
    const read = await store.lateness.read('revenue', ARRIVAL - HOUR, ARRIVAL + HOUR);
    expect(read).toEqual({
      histogram: latenessHistogramOf([45 * MINUTE]),
      lateAfterExact: emptyLatenessHistogram(),
    });
  });

  it("keeps each shard's counts in an item of its own, with its checkpoint only, and merges them on read", async () => {
    // Prepare
    const { processor, store, table } = await processorWith({ watermark: 0, lastRunStartedAt: null });

    // Act
    await processor.process(kinesisEvent(records([MINUTE, 2 * MINUTE], 0, 'shardId-000000000001')));
    await processor.process(kinesisEvent(records([3 * MINUTE], 2, 'shardId-000000000002')));

    // Assess
    const items = [];
    for await (const item of new Table(fixture.dynamo, table).query(latenessPartition('revenue')))
      items.push(item);
    expect(items.map((item) => Object.keys(item).filter((name) => name.startsWith('ck_')))).toEqual([
      ['ck_shardId-000000000001'],
      ['ck_shardId-000000000002'],
    ]);
    expect(await store.lateness.checkpoint('revenue', ARRIVAL, 'shardId-000000000002')).toBe(
      padSequence(sequenceNumber(2)),
    );
    expect((await store.lateness.read('revenue', ARRIVAL - HOUR, ARRIVAL + HOUR)).histogram).toEqual(
      latenessHistogramOf([MINUTE, 2 * MINUTE, 3 * MINUTE]),
    );
  });

  it('ignores counts under bin edges that no longer exist, those of late events too, so no share passes 1', async () => {
    // Prepare: an item written under an edge of 999 ms that the bins no longer have, beside a current one.
    const { store, table } = await processorWith({ watermark: 0, lastRunStartedAt: null });
    await new Table(fixture.dynamo, table).put(latenessItemKey('revenue', ARRIVAL, 'shardId-000000000001'), {
      'lat:999': { N: '5' },
      'late:999': { N: '5' },
      'lat:1000': { N: '1' },
    });

    // Act
    const read = await store.lateness.read('revenue', ARRIVAL - HOUR, ARRIVAL + HOUR);

    // Assess
    expect(read).toEqual({ histogram: latenessHistogramOf([500]), lateAfterExact: emptyLatenessHistogram() });
    expect(latenessSummary(read).lateAfterExactShare).toBe(0);
  });
});

describe("the exactness the recorder reads of a view's manifest", () => {
  it('reads the watermark and the last run start alone, and a manifest committed before they were stored whole', async () => {
    // Prepare: W 12:00 committed by a run started at 12:10, for revenue by today's commit, for the other
    // view as an older commit stored it (the packed manifest alone)
    const { processor, store, table } = await processorWith(
      { watermark: 0, lastRunStartedAt: null },
      { lateness: (batchStore) => latenessRecorderOver(batchStore, quietLogger(), () => ARRIVAL) },
    );
    const manifestOf = (view: string): Manifest => ({
      view,
      version: 1,
      revision: 1,
      watermark: NOON,
      days: {},
      lastRunId: 'run-1',
      lastRunStartedAt: NOON + 10 * MINUTE,
      committedAt: NOON + 20 * MINUTE,
    });
    await store.commitManifest(manifestOf('revenue'), 0);
    await new Table(fixture.dynamo, table).put(manifestKey('orders_per_minute'), {
      revision: { N: '1' },
      manifestGz: { B: packManifest(manifestOf('orders_per_minute')) },
    });
    const wholeReads = vi.spyOn(Manifests.prototype, 'get');

    // Act
    await processor.process(kinesisEvent(records([45 * MINUTE])));

    // Assess: both views counted the event late after exact; only the older manifest was read whole
    for (const view of orderViews.filter(({ name }) => name === 'revenue' || name === 'orders_per_minute'))
      expect(
        (await store.lateness.read(view.name, ARRIVAL - HOUR, ARRIVAL + HOUR)).lateAfterExact,
        view.name,
      ).toEqual(latenessHistogramOf([45 * MINUTE]));
    expect(wholeReads.mock.calls).toEqual([['orders_per_minute']]);
    wholeReads.mockRestore();
  });
});

describe('a lateness statistic that fails', () => {
  const failures: [string, (store: DynamoBatchStore) => LatenessRecorder][] = [
    [
      'its table write throws',
      (store) =>
        new LatenessRecorder({
          store: Object.assign(Object.create(store.lateness), {
            add: async () => {
              throw new Error('throttled');
            },
          }),
          exactnessOf: async () => ({ watermark: 0, lastRunStartedAt: null }),
          logger: quietLogger(),
        }),
    ],
    [
      'its manifest read throws',
      (store) =>
        new LatenessRecorder({
          store: store.lateness,
          exactnessOf: async () => {
            throw new Error('throttled');
          },
          logger: quietLogger(),
        }),
    ],
    [
      'its manifest read never answers',
      (store) =>
        new LatenessRecorder({
          store: store.lateness,
          exactnessOf: () => new Promise(() => {}),
          logger: quietLogger(),
          timeoutMs: 50,
        }),
    ],
  ];

  it.each(failures)(
    'still writes the speed items and fails no record when %s, and counts the drop',
    async (_, lateness) => {
      // Prepare
      const { processor, speedStore, metrics } = await processorWith(
        { watermark: 0, lastRunStartedAt: null },
        { lateness },
      );
      const published = vi.spyOn(metrics, 'addMetric');

      // Act
      const answer = await processor.process(kinesisEvent(records([MINUTE, 2 * MINUTE])));

      // Assess
      expect(answer).toEqual({ batchItemFailures: [] });
      const rows = await speedStore.readRows(revenue, ARRIVAL - HOUR, ARRIVAL + HOUR, ARRIVAL);
      expect(rows.map((row) => row.values.orders)).toEqual([2n]);
      expect(published).toHaveBeenCalledWith(SPEED_METRICS.latenessNotRecorded.name, 'Count', 1);
    },
  );
});
