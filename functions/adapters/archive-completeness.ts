import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';

/**
 * How far the archive is known complete: every record put on the stream before `completeThrough()`
 * (an arrival time, epoch milliseconds) has been delivered to the archive. The plan bounds each run's
 * watermark by it (`nextWatermark`, functions/core/watermark.ts).
 */
export interface ArchiveCompleteness {
  completeThrough(): Promise<number>;
}

/** The period of the Firehose metrics read, and the margin added for the period a datapoint sums up. */
export const FIREHOSE_METRIC_PERIOD_MS = 60_000;
/** How far back the Firehose metrics are read; with no freshness datapoint in it, completeness is its start. */
export const FIREHOSE_METRIC_WINDOW_MS = 15 * 60_000;

/** One period of the two Firehose measures, each the period's maximum; null where none was published. */
export interface FirehoseLagSample {
  /** The period's start, epoch milliseconds. */
  readonly at: number;
  /** `DeliveryToS3.DataFreshness`, seconds. */
  readonly freshnessSeconds: number | null;
  /** `KinesisMillisBehindLatest`, milliseconds. */
  readonly behindLatestMs: number | null;
}

/**
 * Where the archive is complete through, from Firehose's own measures over the window ending `now`.
 *
 * `DeliveryToS3.DataFreshness` is the age of the oldest record in Firehose not yet delivered to S3 (any
 * older record is delivered), measured from when Firehose read it; `KinesisMillisBehindLatest` is how far
 * Firehose's last read record is behind the stream's newest: the records still to be read. So at any time
 * t of a period starting at T, everything that arrived before t - freshness - behind is delivered; with
 * the period's maxima and t taken as T, that is a bound for the whole period, and completeness never goes
 * back, so it holds now. The margin is one more metric period (datapoints are stamped with their
 * period's start and published late). See
 * https://docs.aws.amazon.com/firehose/latest/dev/monitoring-with-cloudwatch-metrics.html (data delivery
 * and data ingestion metrics).
 *
 * No freshness datapoint in the window: Firehose publishes none when it has nothing to deliver, and also
 * when delivery is blocked, which its metrics cannot tell apart
 * (https://docs.aws.amazon.com/firehose/latest/dev/data-freshness-metric-not-emitted.html). The archive is
 * then taken as complete through the window's start only: conservative by the window. A blockage older
 * than the window is not seen here (the dashboard graphs the freshness; no alarm watches it yet).
 */
export function firehoseCompleteThrough(samples: readonly FirehoseLagSample[], now: number): number {
  const windowStart = now - FIREHOSE_METRIC_WINDOW_MS;
  const latest = samples
    .filter((sample) => sample.freshnessSeconds !== null && sample.at >= windowStart)
    .reduce<FirehoseLagSample | null>(
      (last, sample) => (last === null || sample.at > last.at ? sample : last),
      null,
    );
  if (latest === null) return windowStart;
  const lag = (latest.freshnessSeconds ?? 0) * 1000 + (latest.behindLatestMs ?? 0);
  return Math.min(now, latest.at - lag - FIREHOSE_METRIC_PERIOD_MS);
}

/** Firehose's measures of one delivery stream, read from CloudWatch (GetMetricData). */
export class FirehoseArchiveCompleteness implements ArchiveCompleteness {
  constructor(
    private readonly cloudWatch: CloudWatchClient,
    private readonly deliveryStreamName: string,
    private readonly now: () => number,
  ) {}

  async completeThrough(): Promise<number> {
    const now = this.now();
    const metric = (id: string, metricName: string) => ({
      Id: id,
      MetricStat: {
        Metric: {
          Namespace: 'AWS/Firehose',
          MetricName: metricName,
          Dimensions: [{ Name: 'DeliveryStreamName', Value: this.deliveryStreamName }],
        },
        Period: FIREHOSE_METRIC_PERIOD_MS / 1000,
        Stat: 'Maximum',
      },
    });
    const results: MetricDataResult[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.cloudWatch.send(
        new GetMetricDataCommand({
          StartTime: new Date(now - FIREHOSE_METRIC_WINDOW_MS),
          EndTime: new Date(now),
          MetricDataQueries: [
            metric('freshness', 'DeliveryToS3.DataFreshness'),
            metric('behind', 'KinesisMillisBehindLatest'),
          ],
          NextToken: nextToken,
        }),
      );
      results.push(...(page.MetricDataResults ?? []));
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
    const samples = new Map<number, { freshnessSeconds: number | null; behindLatestMs: number | null }>();
    for (const result of results) {
      (result.Timestamps ?? []).forEach((timestamp, index) => {
        const value = result.Values?.[index];
        if (value === undefined) return;
        const at = timestamp.getTime();
        const sample = samples.get(at) ?? { freshnessSeconds: null, behindLatestMs: null };
        if (result.Id === 'freshness')
          sample.freshnessSeconds = Math.max(sample.freshnessSeconds ?? 0, value);
        if (result.Id === 'behind') sample.behindLatestMs = Math.max(sample.behindLatestMs ?? 0, value);
        samples.set(at, sample);
      });
    }
    return firehoseCompleteThrough(
      [...samples].map(([at, sample]) => ({ at, ...sample })),
      now,
    );
  }
}
