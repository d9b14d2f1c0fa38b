import { Duration, Validations } from 'aws-cdk-lib';
import type { IRestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { STAGE_DEFAULTS } from '../functions/commons/layout';
import {
  BATCH_METRICS,
  METRICS_NAMESPACE,
  type MetricSpec,
  SPEED_METRICS,
} from '../functions/commons/metrics';
import type { BatchLayer } from './batch-layer';
import { DEFAULT_STAGE_CONFIG, type StageConfig } from './config';
import type { RawArchive } from './raw-archive';
import type { SpeedLayer } from './speed-layer';

/** A metric of the table the handlers publish from, with the dimension values given. */
export function emittedMetric(
  spec: MetricSpec,
  options: {
    readonly statistic: string;
    readonly period: Duration;
    readonly dimensions?: Record<string, string>;
  },
): Metric {
  const dimensions = options.dimensions ?? {};
  const missing = spec.dimensions.filter((name) => dimensions[name] === undefined);
  if (missing.length > 0) throw new Error(`metric ${spec.name} needs dimensions ${missing.join(', ')}`);
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: spec.name,
    dimensionsMap: { service: spec.service, ...dimensions },
    statistic: options.statistic,
    period: options.period,
  });
}

export type AlarmThresholds = StageConfig['alarms'];

export interface ObservabilityProps {
  readonly table: ITableV2;
  readonly speed: SpeedLayer;
  readonly archive: RawArchive;
  readonly batch: BatchLayer;
  /** @default the stage defaults of `lib/config.ts` */
  readonly thresholds?: AlarmThresholds;
  /** How long speed items outlive their bucket: a served watermark trailing now by half of it is alarmed. @default STAGE_DEFAULTS.speedRetentionHours */
  readonly speedRetention?: Duration;
  /**
   * The serving layer's REST API: when given, a 5xx alarm and API widgets are added (or call
   * `monitorApi` later).
   * @default no API alarm or widgets
   */
  readonly api?: IRestApi;
  /**
   * The export hasher's dead-letter queue (`ExportHasher.lostHashes`): when given, an alarm as soon as it
   * holds a message (an export that stays incomplete).
   * @default no export alarm
   */
  readonly lostExportHashes?: IQueue;
  /** Alarm notifications are mailed here. @default no subscription (the topic is still created) */
  readonly alarmEmail?: string;
  /** Prefix of the alarm and dashboard names. @default 'driftless' */
  readonly namePrefix?: string;
}

/**
 * The pipeline's health in one place: an alarm for each way it can go wrong (the speed layer falling
 * behind, batches given up on, invalid events piling up, batch runs failing, speed and batch
 * disagreeing, the API failing), all notifying one SNS topic, and a dashboard of the same signals.
 */
export class Observability extends Construct {
  public readonly alarmTopic: Topic;
  public readonly dashboard: Dashboard;
  public readonly alarms: {
    readonly iteratorAge: Alarm;
    readonly streamWriteThrottled: Alarm;
    readonly failedBatches: Alarm;
    readonly quarantine: Alarm;
    readonly runFailed: Alarm;
    /** An archive object whose day the batch runs may never recompute: the marker gave up on it. */
    readonly lostMarkers: Alarm;
    /** An export file the hasher gave up on: its export never completes. Set with the `lostExportHashes` prop. */
    readonly lostExportHashes?: Alarm;
    /** One per view, keyed by view name. */
    readonly drift: Readonly<Record<string, Alarm>>;
    /** One per view: its served watermark trails now by half the speed retention. */
    readonly watermarkAge: Readonly<Record<string, Alarm>>;
    /** A version a manifest serves whose stored definition no longer builds: the speed layer cannot count it. */
    readonly unbuildableDefinitions: Alarm;
    /** A distinct measure's merge gave up after its retries (one hot item written by too many shards at once). */
    readonly sketchMergesGivenUp: Alarm;
  };
  /** Set by `monitorApi` (or the `api` prop). */
  public api5xxAlarm?: Alarm;

  private readonly thresholds: AlarmThresholds;
  private readonly namePrefix: string;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { speed, archive, batch, table } = props;
    this.thresholds = props.thresholds ?? DEFAULT_STAGE_CONFIG.alarms;
    this.namePrefix = props.namePrefix ?? 'driftless';
    const thresholds = this.thresholds;

    this.alarmTopic = new Topic(this, 'AlarmTopic', { enforceSSL: true, displayName: 'driftless alarms' });
    Validations.of(this.alarmTopic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry alarm names and states, no data; CloudWatch cannot publish to a topic under the AWS managed SNS key, and a customer key would cost more than what it protects.',
    });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));

    const speedMetric = (spec: MetricSpec, statistic = 'Sum', period = Duration.minutes(5)) =>
      emittedMetric(spec, { statistic, period });
    // A dead-letter queue's alarm: the most messages it held in five minutes.
    const messagesHeld = (queue: IQueue) =>
      queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(5) });

    const iteratorAge = this.alarm('IteratorAge', {
      metric: speed.function.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(5) }),
      threshold: thresholds.iteratorAgeSeconds * 1000,
      description: `the speed layer reads more than ${thresholds.iteratorAgeSeconds} s behind the stream`,
    });
    // Kinesis throttles writes past a provisioned stream's shards (and an on-demand one's twice-peak
    // scaling); the sink retries them, so the first sign is this metric, before events are refused.
    const streamWriteThrottled = this.alarm('StreamWriteThrottled', {
      metric: speed.stream.metricWriteProvisionedThroughputExceeded({
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      threshold: 0,
      description:
        'writes to the stream were throttled: producers retried, and past their retries refused events; add shards (streamShards) or use on-demand',
    });
    const failedBatches = this.alarm('FailedBatches', {
      metric: messagesHeld(speed.failureQueue),
      threshold: thresholds.failedBatches,
      description: 'the speed layer gave up on batches: replay them from the on-failure queue',
    });
    const quarantine = this.alarm('Quarantine', {
      metric: speedMetric(SPEED_METRICS.invalid, 'Sum', Duration.hours(1)),
      threshold: thresholds.quarantinedRecordsPerHour,
      description: `more than ${thresholds.quarantinedRecordsPerHour} invalid records quarantined in an hour`,
    });
    const runFailed = this.alarm('RunFailed', {
      metric: new MathExpression({
        expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)',
        usingMetrics: {
          failed: batch.stateMachine.metricFailed(),
          timedOut: batch.stateMachine.metricTimedOut(),
          aborted: batch.stateMachine.metricAborted(),
        },
        period: Duration.hours(1),
        label: 'batch runs not completed',
      }),
      threshold: 0,
      description: 'a batch run failed, timed out or was aborted',
    });
    const lostMarkers = this.alarm('LostArchiveMarkers', {
      metric: messagesHeld(batch.lostMarkers),
      threshold: 0,
      description:
        'the archive marker gave up on an object: a run may not recompute its day; backfill the views (the message names the object)',
    });
    const lostExportHashes =
      props.lostExportHashes === undefined
        ? undefined
        : this.alarm('LostExportHashes', {
            metric: messagesHeld(props.lostExportHashes),
            threshold: 0,
            description:
              'the export hasher gave up on an export file: its export stays completed: null; invoke the hasher again with the event the message holds, or start the export again',
          });
    const driftMetrics = Object.fromEntries(
      batch.views.map((view) => [
        view.name,
        emittedMetric(BATCH_METRICS.driftRatio, {
          statistic: 'Maximum',
          period: Duration.hours(1),
          dimensions: { view: view.name },
        }),
      ]),
    );
    // Half the speed retention: W frozen that long (a definition switch waiting on a failing backfill, or
    // on a speed layer that has not counted the new version) leaves the other half to act before the
    // served buckets from W on lose their speed items.
    const watermarkAgeLimitMs =
      (props.speedRetention ?? Duration.hours(STAGE_DEFAULTS.speedRetentionHours)).toMilliseconds() / 2;
    const watermarkAge = Object.fromEntries(
      batch.views.map((view) => [
        view.name,
        this.alarm(`WatermarkAge-${view.name}`, {
          metric: emittedMetric(BATCH_METRICS.servedWatermarkAge, {
            statistic: 'Maximum',
            period: Duration.hours(1),
            dimensions: { view: view.name },
          }),
          threshold: watermarkAgeLimitMs,
          description: `view ${view.name}'s served watermark trails now by more than half the speed retention: a definition switch or the batch runs are stuck (GET /views says which)`,
        }),
      ]),
    );
    const unbuildableDefinitions = this.alarm('UnbuildableDefinitions', {
      metric: speedMetric(SPEED_METRICS.unbuildableDefinitions, 'Maximum'),
      threshold: 0,
      description:
        "a view version a manifest serves no longer builds over the catalog: the speed layer does not count it and the API serves the code version from speed alone; finish the new version's backfill or roll back the catalog change",
    });
    const sketchMergesGivenUp = this.alarm('SketchMergesGivenUp', {
      metric: speedMetric(SPEED_METRICS.sketchMergesGivenUp, 'Sum'),
      threshold: 0,
      description:
        "a distinct measure's sketch merge met another shard's write on every retry and gave up: its batch is retried, and keeps failing while one item (a hot bucket and group) takes more merges than it can (docs/operations.md)",
    });
    const drift = Object.fromEntries(
      Object.entries(driftMetrics).map(([view, metric]) => [
        view,
        this.alarm(`Drift-${view}`, {
          metric,
          threshold: thresholds.driftRatio,
          description: `speed and batch of view ${view} differ past the threshold`,
        }),
      ]),
    );
    this.alarms = {
      iteratorAge,
      streamWriteThrottled,
      failedBatches,
      quarantine,
      runFailed,
      lostMarkers,
      ...(lostExportHashes === undefined ? {} : { lostExportHashes }),
      drift,
      watermarkAge,
      unbuildableDefinitions,
      sketchMergesGivenUp,
    };

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${this.namePrefix}-pipeline`,
      defaultInterval: Duration.hours(12),
    });
    const graph = (title: string, left: IMetric[], right: IMetric[] = []) =>
      new GraphWidget({ title, left, right, width: 8, height: 6 });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          '# driftless pipeline\nKinesis → speed Lambda → DynamoDB; Firehose → S3 → Athena batch runs; alarms notify the alarm topic.',
        width: 24,
        height: 2,
      }),
      new AlarmStatusWidget({
        title: 'Alarms',
        alarms: [
          iteratorAge,
          streamWriteThrottled,
          failedBatches,
          quarantine,
          runFailed,
          lostMarkers,
          ...(lostExportHashes === undefined ? [] : [lostExportHashes]),
          unbuildableDefinitions,
          sketchMergesGivenUp,
          ...Object.values(drift),
          ...Object.values(watermarkAge),
        ],
        width: 24,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      graph(
        'Ingest: records in',
        [speed.stream.metricIncomingRecords({ statistic: 'Sum' })],
        [speed.stream.metricIncomingBytes({ statistic: 'Sum' })],
      ),
      graph('Speed: iterator age (ms)', [
        speed.function.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(1) }),
      ]),
      graph(
        'Speed: invocations and errors',
        [speed.function.metricInvocations(), speed.function.metricErrors(), speed.function.metricThrottles()],
        [speed.function.metricDuration({ statistic: 'p99' })],
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Speed: events, invalid, conflicts, lateness not recorded, counted views stale, sketch merge retries and give-ups',
        [
          speedMetric(SPEED_METRICS.events),
          speedMetric(SPEED_METRICS.invalid),
          speedMetric(SPEED_METRICS.conflicts),
          speedMetric(SPEED_METRICS.latenessNotRecorded),
          speedMetric(SPEED_METRICS.countedViewsStale),
          speedMetric(SPEED_METRICS.sketchMergeRetries),
          speedMetric(SPEED_METRICS.sketchMergesGivenUp),
        ],
        [speedMetric(SPEED_METRICS.keysWritten)],
      ),
      graph('Speed: failed batches waiting', [
        speed.failureQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' }),
      ]),
      graph(
        'DynamoDB: consumed capacity',
        [table.metricConsumedWriteCapacityUnits(), table.metricConsumedReadCapacityUnits()],
        [table.metricUserErrors()],
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Archive: Firehose freshness (s)',
        [
          new Metric({
            namespace: 'AWS/Firehose',
            metricName: 'DeliveryToS3.DataFreshness',
            dimensionsMap: { DeliveryStreamName: archive.deliveryStream.deliveryStreamName },
            statistic: 'Maximum',
          }),
        ],
        [archive.transform.metricErrors()],
      ),
      graph(
        'Batch: runs',
        [
          batch.stateMachine.metricSucceeded({ period: Duration.hours(1) }),
          batch.stateMachine.metricFailed({ period: Duration.hours(1) }),
          batch.stateMachine.metricTimedOut({ period: Duration.hours(1) }),
        ],
        [batch.stateMachine.metricTime({ statistic: 'Maximum', period: Duration.hours(1) })],
      ),
      graph(
        'Batch: drift ratio per view',
        Object.entries(driftMetrics).map(([view, metric]) => metric.with({ label: view })),
      ),
    );
    this.dashboard.addWidgets(
      graph('Athena: bytes scanned per hour', [
        new MathExpression({
          expression: `SUM(SEARCH('{AWS/Athena,QueryState,QueryType,WorkGroup} MetricName="ProcessedBytes" WorkGroup="${archive.workGroupName}"', 'Sum', 3600))`,
          label: 'bytes scanned',
          period: Duration.hours(1),
        }),
      ]),
    );

    if (props.api) this.monitorApi(props.api);
  }

  /** Adds the API's 5xx alarm and its widgets; the serving layer's API is wired in through this. */
  monitorApi(api: IRestApi): Alarm {
    if (this.api5xxAlarm) throw new Error('Observability already monitors an API');
    const apiMetric = (metricName: string, statistic = 'Sum') =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiName: api.restApiName },
        statistic,
        period: Duration.minutes(5),
      });
    this.api5xxAlarm = this.alarm('Api5xx', {
      metric: apiMetric('5XXError'),
      threshold: this.thresholds.api5xxPer5Minutes,
      description: `the API answered more than ${this.thresholds.api5xxPer5Minutes} 5xx in five minutes`,
    });
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'API: requests and errors',
        left: [apiMetric('Count'), apiMetric('4XXError'), apiMetric('5XXError')],
        width: 12,
        height: 6,
      }),
      new GraphWidget({
        title: 'API: latency (ms)',
        left: [apiMetric('Latency', 'p50'), apiMetric('Latency', 'p99')],
        right: [apiMetric('IntegrationLatency', 'p99')],
        width: 12,
        height: 6,
      }),
    );
    return this.api5xxAlarm;
  }

  /** An alarm past `threshold` in one period, notifying the topic; no data is not a breach. */
  private alarm(id: string, options: { metric: IMetric; threshold: number; description: string }): Alarm {
    const alarm = new Alarm(this, id, {
      alarmName: `${this.namePrefix}-${id}`,
      metric: options.metric,
      threshold: options.threshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: options.description,
    });
    const action = new SnsAction(this.alarmTopic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    return alarm;
  }
}
