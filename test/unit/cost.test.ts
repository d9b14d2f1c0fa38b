import { describe, expect, it } from 'vitest';
import {
  type CostReport,
  DEFAULT_WORKLOAD,
  type Measured,
  monthlyCost,
  runsPerMonth,
  SERVICES,
  shardsOf,
  streamPlan,
  type Workload,
  WorkloadError,
} from '../../cost/model';
import { BILLING_RULES, GB, MONTH_SECONDS, PRICES } from '../../cost/prices';

const MAPPING_BATCH_SIZE = 1_000;

/**
 * Figures as `cost/measure.ts` measures them for the demo views (a run at 1,000 events/s gave these),
 * with the stream plan of `workload`: what the model is given, without the seconds a measurement takes.
 */
function measuredFor(workload: Workload): Measured {
  const records = { eventsPerRecord: 100, bytesPerRecord: 22_027 };
  const plan = streamPlan(workload, records, MAPPING_BATCH_SIZE, shardsOf(workload, records));
  return {
    speed: {
      plan,
      writesPerInvocation: 9.2,
      writeUnitsPerWrite: 1,
      readUnitsPerInvocation: 0,
      handlerMsPerInvocation: 30,
      computeMsPerEvent: 0.01,
      emfBytesPerInvocation: 404,
      views: [
        { name: 'revenue', bucketMs: 3_600_000, groupsPerBucket: 6, itemBytes: 284, countedShare: 0.85 },
        { name: 'orders_per_minute', bucketMs: 60_000, groupsPerBucket: 3, itemBytes: 284, countedShare: 1 },
      ],
    },
    packing: {
      eventBytes: workload.eventBytes,
      ...records,
      kinesisKbPerRecord: 22,
      putUnitsPerRecord: 1,
      firehoseUnitsPerRecord: 5,
    },
    archive: {
      lineBytesPerEventByte: 1,
      gzipRatio: 0.1,
      transformMsPerEvent: 0.006,
      markerWritesPerObject: 2,
      markerMsPerObject: 10,
    },
    batch: {
      daysReadPerRun: 2,
      daysReadSource: 'a test',
      runQueries: 2,
      queriesPerLoad: 1,
      transitionsPerRun: 17,
      transitionsPerExtraLoad: 4,
      lambdaTasksPerRun: 6,
      lambdaTasksPerExtraLoad: 1,
      daysPerLoad: 31,
    },
    deployment: {
      memoryMb: { speed: 512, transform: 512, marker: 256, api: 1024, batch: 614 },
      mappingBatchSize: MAPPING_BATCH_SIZE,
      firehoseBufferSeconds: 60,
      firehoseBufferBytes: 64 * 1024 ** 2,
      customMetrics: 7,
      alarms: 8,
      dashboards: 1,
      settleMinutes: 15,
      speedRetentionHours: 72,
    },
  };
}

const costOf = (changes: Partial<Workload> = {}): CostReport => {
  const workload = { ...DEFAULT_WORKLOAD, ...changes };
  return monthlyCost(workload, measuredFor(workload));
};

/** The quantity of one priced unit a bill charges. */
const quantityOf = (bill: CostReport['ours'], price: keyof typeof PRICES): number =>
  bill.charges
    .filter((charge) => charge.price === price)
    .reduce((total, charge) => total + charge.quantity, 0);

describe('the cost model', () => {
  it.each([
    ['on-demand', 1],
    ['provisioned', 4],
  ] as const)(
    'prices the naive way above ours, service by service, for the default workload on %s',
    (capacity, window) => {
      // Act
      const report = costOf({ capacity, batchingWindowSeconds: window });
      // Assess
      expect(report.naive.totalUsd).toBeGreaterThan(report.ours.totalUsd);
      for (const service of SERVICES)
        expect(report.naive.services[service], service).toBeGreaterThanOrEqual(
          report.ours.services[service] - 1e-9,
        );
    },
  );

  it('doubles the services events drive when the rate doubles', () => {
    // Act
    const once = costOf({ eventsPerSec: 1_000 });
    const twice = costOf({ eventsPerSec: 2_000 });
    // Assess
    for (const service of ['firehose', 'athena'] as const)
      expect(twice.ours.services[service] / once.ours.services[service], service).toBeCloseTo(2, 1);
    for (const price of ['kinesisOnDemandIngestGb', 's3StorageGbMonth'] as const)
      expect(quantityOf(twice.ours, price) / quantityOf(once.ours, price), price).toBeCloseTo(2, 5);
    expect(twice.naive.services.dynamodb / once.naive.services.dynamodb).toBeCloseTo(2, 1);
  });

  it('writes less to DynamoDB with a longer batching window', () => {
    // Act
    const short = costOf({ capacity: 'provisioned', batchingWindowSeconds: 1 });
    const long = costOf({ capacity: 'provisioned', batchingWindowSeconds: 4 });
    // Assess
    expect(quantityOf(long.ours, 'dynamodbWriteUnitsMillion')).toBeLessThan(
      quantityOf(short.ours, 'dynamodbWriteUnitsMillion') / 3,
    );
  });

  it('bills a 200-byte record as 1 KB on on-demand Kinesis and as 5 KB on Firehose, in decimal KB', () => {
    // Act: the naive way puts each 200-byte event in a record of its own
    const { naive } = costOf({ eventBytes: 200, eventsPerSec: 1_000 });
    // Assess: 1 KB is 1,000 bytes, 5 KB 5,000; a GB is 2^30 bytes
    const records = 1_000 * MONTH_SECONDS;
    expect(quantityOf(naive, 'kinesisOnDemandIngestGb')).toBeCloseTo((records * 1_000) / 2 ** 30, 6);
    expect(quantityOf(naive, 'firehoseIngestGb')).toBeCloseTo((records * 5_000) / 2 ** 30, 6);
    expect(GB).toBe(2 ** 30);
  });

  it('counts a 1 MB record as 40 PUT payload units and a 25,000-byte packed record as 1, as AWS does', () => {
    // Assess: "a 1 MB record is 40 PUT payload units" holds for 1,000,000 / 25,000, not 1,048,576 / 25,600
    const unit = BILLING_RULES.kinesisPutPayloadUnit.bytes;
    expect(Math.ceil(1_000_000 / unit)).toBe(40);
    expect(Math.ceil(25_000 / unit)).toBe(1);
    expect(Math.ceil(25_000 / BILLING_RULES.firehoseRecord.bytes)).toBe(5);
  });

  it('invokes the speed function at most once per packed record when a shard gets less than one a poll', () => {
    // Prepare: 100 events/s packed once a second: 1 record/s of 100 events over 4 on-demand shards
    const workload: Workload = { ...DEFAULT_WORKLOAD, eventsPerSec: 100, producerFlushSeconds: 1 };
    const records = { eventsPerRecord: 100, bytesPerRecord: 20_000 };
    // Act
    const plan = streamPlan(workload, records, MAPPING_BATCH_SIZE, 4);
    const twice = streamPlan(
      workload,
      { eventsPerRecord: 50, bytesPerRecord: 10_000 },
      MAPPING_BATCH_SIZE,
      4,
    );
    // Assess: min(4 shards / 1 s, 1 record/s) = 1 invocation/s of 100 events, not 4 of 25
    expect(plan).toMatchObject({ invocationsPerSec: 1, eventsPerInvocation: 100, boundBy: 'record' });
    // min(4 / 1 s, 2 records/s) = 2 invocations/s of 50 events
    expect(twice).toMatchObject({ invocationsPerSec: 2, eventsPerInvocation: 50, boundBy: 'record' });
  });

  it('charges the speed writes of one invocation a second when one packed record arrives a second', () => {
    // Prepare: measuredFor packs 100 events a record: at 100 events/s, 1 record/s on 4 shards
    const report = costOf({ eventsPerSec: 100, producerFlushSeconds: 1 });
    // Act
    const writeUnits = quantityOf(report.ours, 'dynamodbWriteUnitsMillion') * 1e6;
    // Assess: speed: 1 invocation/s x 9.2 writes x 1 unit x 2,628,000 s = 24,177,600; the marker: 2 writes
    // an object, an object every 60 s: 87,600; the batch: 730 runs x 10 writes x 2 views = 14,600
    expect(writeUnits).toBeCloseTo(24_177_600 + 87_600 + 14_600, 0);
    expect(report.plan.invocationsPerSec).toBe(1);
  });

  it("charges a distinct measure's merge reads: each invocation's read units, every second", () => {
    // Prepare: the same workload, once without merge reads and once with 4 read units an invocation
    const workload = { ...DEFAULT_WORKLOAD, eventsPerSec: 100, producerFlushSeconds: 1 };
    const measured = measuredFor(workload);
    const without = monthlyCost(workload, measured);
    // Act
    const withReads = monthlyCost(workload, {
      ...measured,
      speed: { ...measured.speed, readUnitsPerInvocation: 4 },
    });
    // Assess: 1 invocation/s x 4 units x 2,628,000 s = 10,512,000 read units more
    const readUnits = (report: CostReport) => quantityOf(report.ours, 'dynamodbReadUnitsMillion') * 1e6;
    expect(readUnits(withReads) - readUnits(without)).toBeCloseTo(10_512_000, 0);
  });

  it.each([
    [0, 1_130],
    [1, 2_130],
    [4, 5_130],
  ])(
    'estimates freshness at a %s s window as flush + the 1 s poll + the window + the handler',
    (window, ms) => {
      // Act: flush 100 ms, handler 30 ms
      const report = costOf({ capacity: 'provisioned', batchingWindowSeconds: window });
      // Assess
      expect(report.freshnessEstimateP99Ms).toBe(ms);
    },
  );

  it("scans what a batch run's statistics measured, scaled by events, when they are given", () => {
    // Prepare: a run read 30,000,000 bytes over 2,001,000 events; the workload is 1,000 events/s
    const workload = { ...DEFAULT_WORKLOAD };
    const measured = measuredFor(workload);
    const scan = { bytes: 30_000_000, events: 2_001_000, source: 'a test' };
    // Act
    const report = monthlyCost(workload, { ...measured, batch: { ...measured.batch, scan } });
    // Assess: 86,400,000 events a day x 30,000,000 / 2,001,000 = 1,295,352,324 bytes a day; a query reads
    // 1.5 days: 1,943,028,486 bytes, billed 1,854 MiB (1,853.02 rounded up); 4 queries a run, 730 runs
    const perQuery = 1_854 * 2 ** 20;
    expect(report.athenaScan).toBe('measured');
    expect(quantityOf(report.ours, 'athenaScannedTb')).toBeCloseTo((730 * 4 * perQuery) / 2 ** 40, 9);
    expect(costOf().athenaScan).toBe('modelled');
  });

  it('bills every packed event 5 KB on Firehose when its rounding is read per event', () => {
    // Act
    const perRecord = costOf({ firehoseBilledPer: 'stream-record' });
    const perEvent = costOf({ firehoseBilledPer: 'user-record' });
    // Assess
    expect(quantityOf(perEvent.ours, 'firehoseIngestGb')).toBeCloseTo(
      quantityOf(perEvent.naive, 'firehoseIngestGb'),
      6,
    );
    expect(quantityOf(perRecord.ours, 'firehoseIngestGb')).toBeLessThan(
      quantityOf(perEvent.ours, 'firehoseIngestGb') / 10,
    );
  });

  it('gives a provisioned stream the shards its records need, and refuses too few', () => {
    // Prepare: 10,000 events/s of 200 bytes in 22 KB records: about 2 MB/s
    const records = { eventsPerRecord: 100, bytesPerRecord: 22_027 };
    const workload: Workload = { ...DEFAULT_WORKLOAD, capacity: 'provisioned', eventsPerSec: 10_000 };
    // Act, Assess
    expect(shardsOf(workload, records)).toBe(3);
    expect(() => shardsOf({ ...workload, shards: 2 }, records)).toThrow(WorkloadError);
  });

  it('ends an invocation at the window, the batch size or the 6 MB payload, whichever comes first', () => {
    // Prepare
    const provisioned: Workload = { ...DEFAULT_WORKLOAD, capacity: 'provisioned', batchingWindowSeconds: 4 };
    // Act
    const packed = streamPlan(provisioned, { eventsPerRecord: 100, bytesPerRecord: 22_027 }, 1_000, 1);
    const plain = streamPlan(provisioned, { eventsPerRecord: 1, bytesPerRecord: 200 }, 1_000, 1);
    const large = streamPlan(
      { ...provisioned, eventsPerSec: 100_000 },
      { eventsPerRecord: 100, bytesPerRecord: 22_027 },
      1_000,
      1,
    );
    // Assess
    expect(packed).toMatchObject({ eventsPerInvocation: 4_000, invocationsPerSec: 0.25, boundBy: 'window' });
    expect(plain).toMatchObject({ eventsPerInvocation: 1_000, invocationsPerSec: 1, boundBy: 'batch size' });
    expect(large.boundBy).toBe('payload');
  });

  it.each([
    ['rate(1 hour)', 730],
    ['rate(15 minutes)', 2_920],
    ['cron(0 */6 * * ? *)', 4 * (730 / 24)],
    ['cron(0,30 8-9 * * ? *)', 4 * (730 / 24)],
  ])('counts the batch runs of %s', (schedule, runs) => {
    // Act, Assess
    expect(runsPerMonth(schedule)).toBeCloseTo(runs, 6);
  });

  it('refuses a schedule it cannot count', () => {
    // Act, Assess
    expect(() => runsPerMonth('cron(0 12 ? * MON *)')).toThrow(/every day/);
    expect(() => runsPerMonth('at(2026-12-01T00:00:00)')).toThrow(WorkloadError);
  });

  it('lists its assumptions with the result', () => {
    // Act
    const { assumptions } = costOf();
    // Assess
    expect(assumptions.length).toBeGreaterThan(10);
    expect(assumptions.join('\n')).toMatch(/Firehose rounds each Kinesis record/);
  });
});

describe('the prices', () => {
  it.each(Object.entries({ ...PRICES, ...BILLING_RULES }))(
    'names the AWS page and the day %s was read',
    (_name, price) => {
      // Assess
      expect(price.source).toMatch(/^https:\/\/aws\.amazon\.com\/[a-z0-9/-]+\/$/);
      expect(price.readOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(Number.isNaN(Date.parse(price.readOn))).toBe(false);
    },
  );
});
