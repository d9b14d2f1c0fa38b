import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FIREHOSE_METRIC_PERIOD_MS,
  FIREHOSE_METRIC_WINDOW_MS,
  FirehoseArchiveCompleteness,
  firehoseCompleteThrough,
} from '../../functions/adapters/archive-completeness';
import { CloudWatchFake, type FakeDatapoint } from '../support/cloudwatch-fake';

const MINUTE = 60_000;
const NOW = Date.UTC(2026, 0, 1, 12, 0, 30);
const minuteAgo = (minutes: number) => NOW - (NOW % MINUTE) - minutes * MINUTE;

describe("the archive's completeness from Firehose's measures", () => {
  it('trails the latest minute with a freshness datapoint by freshness, read lag and one period', () => {
    // Prepare: the last minute reported 75 s of freshness and 4 s behind the stream's tip
    const samples = [
      { at: minuteAgo(3), freshnessSeconds: 300, behindLatestMs: 90_000 },
      { at: minuteAgo(1), freshnessSeconds: 75, behindLatestMs: 4_000 },
    ];
    // Act
    const through = firehoseCompleteThrough(samples, NOW);
    // Assess
    expect(through).toBe(minuteAgo(1) - 75_000 - 4_000 - FIREHOSE_METRIC_PERIOD_MS);
  });

  it('takes no read lag as none when Firehose published none for the minute', () => {
    const through = firehoseCompleteThrough(
      [{ at: minuteAgo(2), freshnessSeconds: 61, behindLatestMs: null }],
      NOW,
    );
    expect(through).toBe(minuteAgo(2) - 61_000 - FIREHOSE_METRIC_PERIOD_MS);
  });

  it('is the window’s start when no freshness was published in it (idle, or blocked: the metrics cannot tell)', () => {
    const through = firehoseCompleteThrough(
      [
        { at: minuteAgo(1), freshnessSeconds: null, behindLatestMs: 0 },
        { at: NOW - FIREHOSE_METRIC_WINDOW_MS - MINUTE, freshnessSeconds: 10, behindLatestMs: 0 },
      ],
      NOW,
    );
    expect(through).toBe(NOW - FIREHOSE_METRIC_WINDOW_MS);
  });
});

describe('FirehoseArchiveCompleteness', () => {
  let cloudWatch: CloudWatchFake;
  const published: Record<string, FakeDatapoint[]> = {
    'DeliveryToS3.DataFreshness': [
      { at: minuteAgo(4), value: 200 },
      { at: minuteAgo(2), value: 70 },
    ],
    KinesisMillisBehindLatest: [{ at: minuteAgo(2), value: 1_500 }],
  };

  beforeAll(async () => {
    cloudWatch = await CloudWatchFake.start({
      region: 'us-east-1',
      datapoints: ({ namespace, name, dimension }) =>
        namespace === 'AWS/Firehose' && dimension === 'archive-delivery' ? (published[name] ?? []) : [],
    });
  });

  afterAll(async () => {
    await cloudWatch?.close();
  });

  it('reads the delivery stream’s freshness and read lag with GetMetricData', async () => {
    // Prepare
    const client = new CloudWatchClient({
      region: 'us-east-1',
      endpoint: cloudWatch.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const completeness = new FirehoseArchiveCompleteness(client, 'archive-delivery', () => NOW);
    // Act
    const through = await completeness.completeThrough();
    // Assess
    expect(through).toBe(minuteAgo(2) - 70_000 - 1_500 - FIREHOSE_METRIC_PERIOD_MS);
    expect(cloudWatch.requests.map(({ queries }) => queries.map((query) => query.Id))).toEqual([
      ['freshness', 'behind'],
    ]);
    client.destroy();
  });
});
