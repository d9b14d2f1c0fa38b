import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import { DynamoBatchStore } from '../../functions/adapters/dynamo-batch-store';
import { DynamoSpeedStore } from '../../functions/adapters/dynamo-speed-store';
import { FileObjectStore } from '../../functions/adapters/object-store';
import { latenessHistogramOf } from '../../functions/core/lateness';
import { LatenessRecorder } from '../../functions/speed/lateness';
import { SpeedProcessor } from '../../functions/speed/processor';
import { Quarantine } from '../../functions/speed/quarantine';
import { views } from '../../views';
import { quietLogger, quietMetrics, startFixture } from '../support/fixture';
import { kinesisEvent, kinesisRecord, sequenceNumber } from '../support/kinesis-factory';

const MINUTE = 60_000;
const ARRIVAL = Date.UTC(2026, 10, 25, 12, 30);

let fixture: Awaited<ReturnType<typeof startFixture>>;
beforeAll(async () => {
  fixture = await startFixture();
});
afterAll(() => fixture.close());

/** A speed processor recording lateness into a fresh table, every view's watermark at `watermark`. */
async function processorWith(watermark: number) {
  const table = await fixture.newTable();
  const store = new DynamoBatchStore(fixture.dynamo, table);
  const processor = new SpeedProcessor({
    catalog: orderEvents,
    views,
    store: new DynamoSpeedStore(fixture.dynamo, table),
    quarantine: new Quarantine(new FileObjectStore('/nonexistent-quarantine')),
    logger: quietLogger(),
    metrics: quietMetrics(),
    retentionMs: 72 * 3_600_000,
    lateness: new LatenessRecorder({
      store: store.lateness,
      watermarkOf: async () => watermark,
      logger: quietLogger(),
    }),
  });
  return { processor, store };
}

/** Paid orders, the n-th `lateMs[n]` late, arriving at ARRIVAL plus n ms, on one shard. */
const records = (lateMs: readonly number[], first = 0) =>
  lateMs.map((late, index) => {
    const n = first + index;
    const arrivalMs = ARRIVAL + n;
    return kinesisRecord({
      shardId: 'shardId-000000000001',
      sequenceNumber: sequenceNumber(n),
      data: JSON.stringify({ id: `o${n}`, ts: arrivalMs - late, amount: 10, status: 'paid', country: 'FR' }),
      arrivalMs,
    });
  });

describe('the speed layer records lateness', () => {
  it('counts each event once per view it counts in, whatever the redeliveries, in one item per arrival hour', async () => {
    // Prepare: the hour view's watermark at 12:00 makes events from before noon late after exact.
    const { processor, store } = await processorWith(Date.UTC(2026, 10, 25, 12));
    const lateness = [2 * MINUTE, 3 * MINUTE, 45 * MINUTE, 50 * MINUTE, 90 * MINUTE];
    const batch = records(lateness);

    // Act: the batch, the same batch again, then a redelivery from its fourth record with two new ones.
    await processor.process(kinesisEvent(batch));
    await processor.process(kinesisEvent(batch));
    await processor.process(kinesisEvent([...batch.slice(3), ...records([4 * MINUTE, 5 * MINUTE], 5)]));

    // Assess
    const read = await store.lateness.read(ARRIVAL - 3_600_000, ARRIVAL + 3_600_000);
    const all = [...lateness, 4 * MINUTE, 5 * MINUTE];
    // The events 45, 50 and 90 minutes late have event times before noon: in both views' exact buckets.
    for (const view of views)
      expect(read.get(view.name), view.name).toEqual({
        histogram: latenessHistogramOf(all),
        lateAfterExact: 3,
      });
    expect(await store.lateness.read(ARRIVAL + 3_600_000, ARRIVAL + 7_200_000)).toEqual(new Map());
  });
});
