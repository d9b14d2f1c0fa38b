import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamEvent } from 'aws-lambda';
import { catalogs } from '../events';
import { FileObjectStore } from '../functions/adapters/object-store';
import { compileJs } from '../functions/core';
import { LatenessRecorder } from '../functions/speed/lateness';
import { SpeedProcessor } from '../functions/speed/processor';
import { Quarantine } from '../functions/speed/quarantine';
import { lambdaKinesisRecord } from '../local/lambda-kinesis-record';
import { views } from '../views';
import { MemoryLatenessStore } from './memory-lateness-store';
import { MemorySpeedStore } from './memory-speed-store';

const BENCH_STREAM = {
  streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/bench',
  roleArn: 'arn:aws:iam::000000000000:role/bench',
};

/**
 * The speed handler's compute on the reference workload: batches of 1,000 events over 50 groups
 * (countries) in one minute bucket, orders and page views mixed as the demo sends them (one order, then
 * three page views: `pageViewShare` 0.75; 0 for orders only), against an in-memory store, compared with
 * the floor that no handler can beat: base64-decoding and JSON-parsing the same records.
 */
export async function benchSpeed(options: {
  batches: number;
  batchSize: number;
  groups: number;
  rounds: number;
  pageViewShare: number;
}): Promise<void> {
  const minute = Date.UTC(2026, 10, 25, 10, 30);
  const events = (batch: number): KinesisStreamEvent => ({
    Records: Array.from({ length: options.batchSize }, (_, index) => {
      const n = batch * options.batchSize + index;
      const event = n % 100 < options.pageViewShare * 100 ? pageView(n) : order(n);
      const sequenceNumber = (
        49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n + BigInt(n)
      ).toString();
      return lambdaKinesisRecord(BENCH_STREAM, {
        shardId: 'shardId-000000000000',
        sequenceNumber,
        partitionKey: event.id,
        data: Buffer.from(JSON.stringify(event)),
        arrivalMs: minute,
      });
    }),
  });
  const order = (n: number) => ({
    type: 'order',
    id: `order-${n}`,
    ts: minute + (n % 60_000),
    customer: `customer-${n % 997}`,
    country: `C${n % options.groups}`,
    product: `product-${n % 13}`,
    amount: 1_000 + (n % 500),
    discount: n % 7 === 0 ? 100 : 0,
    status: 'paid',
  });
  const pageView = (n: number) => ({
    type: 'page_view',
    id: `view-${n}`,
    ts: minute + (n % 60_000),
    session: `session-${n % 331}`,
    path: `/page-${n % 17}`,
    country: `C${n % options.groups}`,
  });
  const batches = Array.from({ length: options.batches }, (_, batch) => events(batch));
  const totalEvents = options.batches * options.batchSize;

  // Rounds alternate the floor and the handler so both see the same JIT warmth and machine load;
  // each figure is the median of its rounds.
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
  const decodeRates: number[] = [];
  const handlerRates: number[] = [];
  // One processor for all rounds, as one Lambda container serves many batches.
  const store = new MemorySpeedStore();
  // The lateness statistic's writes count with the speed items': one item per view, arrival hour and batch.
  const lateness = new MemoryLatenessStore();
  const processor = new SpeedProcessor({
    catalogs,
    views,
    store,
    quarantine: new Quarantine(new FileObjectStore('/nonexistent-quarantine')),
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'Bench' }),
    retentionMs: 72 * 3_600_000,
    lateness: new LatenessRecorder({
      store: lateness,
      exactnessOf: async () => ({ watermark: 0, lastRunStartedAt: null }),
      logger: new Logger({ logLevel: 'SILENT' }),
    }),
  });
  for (let round = 0; round < options.rounds; round++) {
    // The floor: decode and parse only.
    const decodeStarted = performance.now();
    let parsed = 0;
    for (const batch of batches) {
      for (const record of batch.Records) {
        if (JSON.parse(Buffer.from(record.kinesis.data, 'base64').toString('utf8')) !== null) parsed++;
      }
    }
    const decodeSeconds = (performance.now() - decodeStarted) / 1000;
    decodeRates.push(parsed / decodeSeconds);

    store.reset();
    lateness.reset();
    const handlerStarted = performance.now();
    for (const batch of batches) {
      const response = await processor.process(batch);
      if (response.batchItemFailures.length > 0) throw new Error('the in-memory store never fails');
    }
    const handlerSeconds = (performance.now() - handlerStarted) / 1000;
    handlerRates.push(totalEvents / handlerSeconds);
    console.log(
      JSON.stringify({
        bench: 'speed',
        round,
        events: totalEvents,
        decodeSeconds: Number(decodeSeconds.toFixed(3)),
        handlerSeconds: Number(handlerSeconds.toFixed(3)),
      }),
    );
  }
  const eventsPerSec = Math.round(median(handlerRates));
  const decodeBoundEventsPerSec = Math.round(median(decodeRates));
  // The machine's speed drifts between rounds; a round's two passes run back to back, so the
  // ratio is taken per round, then the median.
  const computeRatio = median(handlerRates.map((rate, round) => rate / (decodeRates[round] as number)));

  // One write per (event, view) the event counts in: what a handler without pre-aggregation does.
  const sample = batches[0]?.Records.map((record) =>
    JSON.parse(Buffer.from(record.kinesis.data, 'base64').toString()),
  );
  const naiveWrites = views.reduce(
    (writes, view) => writes + (sample ?? []).filter((event) => compileJs(view).matches(event)).length,
    0,
  );
  console.log(
    JSON.stringify({
      bench: 'speed',
      batchSize: options.batchSize,
      batches: options.batches,
      rounds: options.rounds,
      groups: options.groups,
      views: views.length,
      pageViewShare: options.pageViewShare,
      eventsPerSec,
      decodeBoundEventsPerSec,
      computeRatio: Number(computeRatio.toFixed(3)),
      writesPerEvent: Number(((store.writes + lateness.writes) / totalEvents).toFixed(4)),
      // A distinct measure's merge reads the item first (strongly consistent): its sketch and checkpoint.
      readsPerEvent: Number((store.reads / totalEvents).toFixed(4)),
      naiveWritesPerEvent: Number((naiveWrites / options.batchSize).toFixed(4)),
    }),
  );
}
