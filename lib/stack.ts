import { Duration, RemovalPolicy, Size, Stack, type StackProps } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import type { Construct } from 'constructs';
import { catalogs } from '../events';
import { checkViewCatalogs } from '../functions/core';
import { views } from '../views';
import { BatchLayer } from './batch-layer';
import { type ApiAuth, DEFAULT_STAGE_CONFIG, type StageConfig } from './config';
import { Observability } from './observability';
import { RawArchive } from './raw-archive';
import { ServingLayer } from './serving-layer';
import { SpeedLayer } from './speed-layer';
import { Storage } from './storage';

export interface DriftlessStackProps extends StackProps {
  /** The stage's settings, resolved from CDK context by `resolveStageConfig`. @default DEFAULT_STAGE_CONFIG */
  readonly config?: StageConfig;
}

/**
 * The driftless application, configured per stage: shared storage, the speed layer, the raw archive,
 * the batch layer, the serving layer and observability.
 */
export class DriftlessStack extends Stack {
  public readonly config: StageConfig;
  /** How the serving layer's API authenticates callers (from the stage config). */
  public readonly apiAuth: ApiAuth;
  public readonly storage: Storage;
  public readonly speed: SpeedLayer;
  public readonly archive: RawArchive;
  public readonly batch: BatchLayer;
  public readonly serving: ServingLayer;
  public readonly observability: Observability;

  constructor(scope: Construct, id: string, props: DriftlessStackProps = {}) {
    super(scope, id, props);
    // S3 server access logs are granted by bucket policy, not the legacy LogDeliveryWrite ACL.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    // A view over a catalog the stack lacks would fail every batch run: refuse it at synth.
    checkViewCatalogs(views, catalogs);
    const config = props.config ?? DEFAULT_STAGE_CONFIG;
    this.config = config;
    this.apiAuth = config.apiAuth;
    const removalPolicy = config.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const logRetention = config.logRetentionDays as RetentionDays;

    this.storage = new Storage(this, 'Storage', { removalPolicy });
    const accessLogsBucket = this.storage.accessLogsBucket;
    this.speed = new SpeedLayer(this, 'Speed', {
      table: this.storage.table,
      speedRetention: Duration.hours(config.speedRetentionHours),
      streamShards: config.streamCapacity === 'provisioned' ? config.streamShards : undefined,
      batchingWindow: Duration.seconds(config.speedBatchingWindowSeconds),
      rollbackRetention: Duration.days(config.rollbackRetentionDays),
      removalPolicy,
      logRetention,
      accessLogsBucket,
    });
    this.archive = new RawArchive(this, 'Archive', {
      stream: this.speed.stream,
      catalogs,
      bytesScannedCutoff: Size.gibibytes(config.athenaBytesScannedCutoffGiB),
      queryResultsRetention: Duration.days(config.queryResultsRetentionDays),
      exportsRetention: Duration.days(config.exportsRetentionDays),
      namePrefix: config.prefix,
      removalPolicy,
      logRetention,
      accessLogsBucket,
    });
    this.batch = new BatchLayer(this, 'Batch', {
      table: this.storage.table,
      archive: this.archive,
      views,
      schedule: ScheduleExpression.expression(config.batchSchedule),
      settle: config,
      grace: Duration.minutes(config.graceMinutes),
      rollbackRetention: Duration.days(config.rollbackRetentionDays),
      definitionSwitchMargin: Duration.seconds(config.definitionSwitchMarginSeconds),
      logRetention,
    });
    this.serving = new ServingLayer(this, 'Serving', {
      table: this.storage.table,
      stream: this.speed.stream,
      stateMachine: this.batch.stateMachine,
      archive: this.archive,
      quarantineBucket: this.speed.quarantineBucket,
      auth: config.apiAuth,
      speedRetention: Duration.hours(config.speedRetentionHours),
      rollbackRetention: Duration.days(config.rollbackRetentionDays),
      exportsRetention: Duration.days(config.exportsRetentionDays),
      definitionSwitchMargin: Duration.seconds(config.definitionSwitchMarginSeconds),
      settle: config,
      logRetention,
    });
    this.observability = new Observability(this, 'Observability', {
      api: this.serving.api,
      lostExportHashes: this.serving.exportHasher.lostHashes,
      table: this.storage.table,
      speed: this.speed,
      archive: this.archive,
      batch: this.batch,
      thresholds: config.alarms,
      speedRetention: Duration.hours(config.speedRetentionHours),
      alarmEmail: config.alarmEmail,
      namePrefix: config.prefix,
    });
  }
}
