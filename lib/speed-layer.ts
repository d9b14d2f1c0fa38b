import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUARANTINE_PREFIX } from '../functions/speed/quarantine';
import { SPEED_EVENT_SOURCE } from '../functions/speed/settings';
import { DriftlessFunction } from './function';

export interface SpeedLayerProps {
  /** The table of speed items (and batch items and manifests). */
  readonly table: ITableV2;
  /**
   * How long speed items outlive their bucket before DynamoDB TTL deletes them; must exceed the
   * batch layer's settle time so the batch view takes over first.
   * @default Duration.hours(72)
   */
  readonly speedRetention?: Duration;
  /** @default Duration.hours(24) */
  readonly streamRetention?: Duration;
  /** How long quarantined records are kept. @default Duration.days(90) */
  readonly quarantineRetention?: Duration;
  /** @default RemovalPolicy.RETAIN for the quarantine bucket */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Kinesis to Lambda to DynamoDB: the stream of raw events, the speed function with its event source
 * mapping, the quarantine for invalid records and the on-failure queue for batches given up on.
 */
export class SpeedLayer extends Construct {
  public readonly stream: Stream;
  public readonly function: DriftlessFunction;
  public readonly quarantineBucket: Bucket;
  public readonly failureQueue: Queue;

  constructor(scope: Construct, id: string, props: SpeedLayerProps) {
    super(scope, id);
    this.stream = new Stream(this, 'Stream', {
      streamMode: StreamMode.ON_DEMAND,
      encryption: StreamEncryption.MANAGED,
      retentionPeriod: props.streamRetention ?? Duration.hours(24),
    });

    // S3, not SQS: a Kinesis record may be 1 MiB, past SQS's 256 KiB message limit.
    this.quarantineBucket = new Bucket(this, 'QuarantineBucket', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      lifecycleRules: [
        { prefix: QUARANTINE_PREFIX, expiration: props.quarantineRetention ?? Duration.days(90) },
      ],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.failureQueue = new Queue(this, 'FailedBatches', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    const speedRetention = props.speedRetention ?? Duration.hours(72);
    this.function = new DriftlessFunction(this, 'Function', {
      handlerFile: 'functions/speed/handler.ts',
      service: 'driftless-speed',
      environment: {
        TABLE_NAME: props.table.tableName,
        QUARANTINE_BUCKET: this.quarantineBucket.bucketName,
        SPEED_RETENTION_HOURS: String(speedRetention.toHours()),
      },
    });

    this.function.addEventSource(
      new KinesisEventSource(this.stream, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: SPEED_EVENT_SOURCE.batchSize,
        maxBatchingWindow: Duration.millis(SPEED_EVENT_SOURCE.maximumBatchingWindowMs),
        // Without it, Lambda ignores the handler's batchItemFailures and retries whole batches.
        reportBatchItemFailures: true,
        bisectBatchOnError: SPEED_EVENT_SOURCE.bisectBatchOnFunctionError,
        retryAttempts: SPEED_EVENT_SOURCE.maximumRetryAttempts,
        maxRecordAge: Duration.millis(SPEED_EVENT_SOURCE.maximumRecordAgeMs),
        parallelizationFactor: SPEED_EVENT_SOURCE.parallelizationFactor,
        onFailure: new SqsDlq(this.failureQueue),
      }),
    );

    // Least privilege: the conditional update and the checkpoint read, nothing else.
    props.table.grant(this.function, 'dynamodb:UpdateItem', 'dynamodb:GetItem');
    this.quarantineBucket.grantPut(this.function, `${QUARANTINE_PREFIX}*`);

    new CfnOutput(this, 'StreamName', {
      value: this.stream.streamName,
      description: 'Kinesis stream of raw events',
    });
  }
}
