import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUARANTINE_PREFIX, STAGE_DEFAULTS } from '../functions/commons/layout';
import { speedFunction } from '../functions/speed/config';
import { SPEED_EVENT_SOURCE } from '../functions/speed/settings';
import { DriftlessBucket } from './bucket';
import { acknowledgeObjectsUnder, objectsUnder } from './bucket-grants';
import { DriftlessFunction } from './function';
import { deadLetterQueue } from './queue';

export interface SpeedLayerProps {
  /** The table of speed items (and batch items and manifests). */
  readonly table: ITableV2;
  /**
   * How long speed items outlive their bucket before DynamoDB TTL deletes them; must exceed the
   * batch layer's settle time so the batch view takes over first.
   * @default Duration.hours(STAGE_DEFAULTS.speedRetentionHours)
   */
  readonly speedRetention?: Duration;
  /** @default Duration.hours(24) */
  readonly streamRetention?: Duration;
  /**
   * The stream's shards when it is provisioned; without them it is on-demand (AWS sizes it as traffic
   * comes, and it has no shard count).
   * @default on-demand
   */
  readonly streamShards?: number;
  /**
   * How long the speed mapping gathers records before it invokes the function (unless a batch fills
   * first): 0 to 5 minutes, in whole seconds.
   * @default Duration.millis(SPEED_EVENT_SOURCE.maximumBatchingWindowMs)
   */
  readonly batchingWindow?: Duration;
  /**
   * How long a replaced manifest can be rolled back to: the version a definition change replaced is
   * counted that long after the switch, so that a rollback to it serves no hole.
   * @default Duration.days(STAGE_DEFAULTS.rollbackRetentionDays)
   */
  readonly rollbackRetention?: Duration;
  /** How long quarantined records are kept. @default Duration.days(90) */
  readonly quarantineRetention?: Duration;
  /** @default RemovalPolicy.RETAIN for the quarantine bucket */
  readonly removalPolicy?: RemovalPolicy;
  /** The function's log retention. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** Where the quarantine bucket writes its server access logs. @default no access logs */
  readonly accessLogsBucket?: IBucket;
}

/**
 * Kinesis to Lambda to DynamoDB: the stream of raw events, the speed function with its event source
 * mapping, the quarantine for invalid records and the on-failure queue for batches given up on.
 */
export class SpeedLayer extends Construct {
  public readonly stream: Stream;
  public readonly function: DriftlessFunction;
  public readonly quarantineBucket: DriftlessBucket;
  public readonly failureQueue: Queue;

  constructor(scope: Construct, id: string, props: SpeedLayerProps) {
    super(scope, id);
    this.stream = new Stream(this, 'Stream', {
      ...(props.streamShards === undefined
        ? { streamMode: StreamMode.ON_DEMAND }
        : { streamMode: StreamMode.PROVISIONED, shardCount: props.streamShards }),
      encryption: StreamEncryption.MANAGED,
      retentionPeriod: props.streamRetention ?? Duration.hours(24),
    });

    // S3, not SQS: a Kinesis record may be 1 MiB, past SQS's 256 KiB message limit.
    this.quarantineBucket = new DriftlessBucket(this, 'QuarantineBucket', {
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'quarantine/',
      lifecycleRules: [
        { prefix: QUARANTINE_PREFIX, expiration: props.quarantineRetention ?? Duration.days(90) },
      ],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.failureQueue = deadLetterQueue(
      this,
      'FailedBatches',
      "It is the Kinesis mapping's on-failure destination, itself the dead-letter queue: its messages point at shard ranges for a person to replay (alarmed on depth)",
    );

    const speedRetention = props.speedRetention ?? Duration.hours(STAGE_DEFAULTS.speedRetentionHours);
    this.function = new DriftlessFunction(this, 'Function', {
      definition: speedFunction,
      environment: {
        TABLE_NAME: props.table.tableName,
        QUARANTINE_BUCKET: this.quarantineBucket.bucketName,
        SPEED_RETENTION_HOURS: String(speedRetention.toHours()),
        ROLLBACK_RETENTION_DAYS: String(
          (props.rollbackRetention ?? Duration.days(STAGE_DEFAULTS.rollbackRetentionDays)).toDays(),
        ),
      },
      logRetention: props.logRetention,
    }).invokedSynchronouslyBy('the Kinesis event source mapping (bisect, bounded retries, on-failure queue)');

    this.function.addEventSource(
      new KinesisEventSource(this.stream, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: SPEED_EVENT_SOURCE.batchSize,
        maxBatchingWindow:
          props.batchingWindow ?? Duration.millis(SPEED_EVENT_SOURCE.maximumBatchingWindowMs),
        // Without it, Lambda ignores the handler's batchItemFailures and retries whole batches.
        reportBatchItemFailures: true,
        bisectBatchOnError: SPEED_EVENT_SOURCE.bisectBatchOnFunctionError,
        retryAttempts: SPEED_EVENT_SOURCE.maximumRetryAttempts,
        maxRecordAge: Duration.millis(SPEED_EVENT_SOURCE.maximumRecordAgeMs),
        parallelizationFactor: SPEED_EVENT_SOURCE.parallelizationFactor,
        onFailure: new SqsDlq(this.failureQueue),
      }),
    );

    // Least privilege: the conditional update and the checkpoint read, and the Query listing a view's
    // registered versions (which the speed layer marks counted or not).
    props.table.grant(this.function, 'dynamodb:UpdateItem', 'dynamodb:GetItem', 'dynamodb:Query');
    // PutObject alone: grantPut would add s3:Abort* and object tagging, which quarantine never uses.
    this.function.addToRolePolicy(objectsUnder(this.quarantineBucket, QUARANTINE_PREFIX, ['s3:PutObject']));
    if (this.function.role) {
      acknowledgeObjectsUnder(
        this.function.role,
        this.quarantineBucket,
        QUARANTINE_PREFIX,
        `Each quarantined record is a new object with a generated key under ${QUARANTINE_PREFIX}; the grant is PutObject on that prefix only.`,
      );
    }

    new CfnOutput(this, 'StreamName', {
      value: this.stream.streamName,
      description: 'Kinesis stream of raw events',
    });
  }
}
