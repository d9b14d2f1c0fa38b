import { Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import { CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import { CfnDatabase, CfnTable } from 'aws-cdk-lib/aws-glue';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import {
  Compression,
  DeliveryStream,
  KinesisStreamSource,
  LambdaFunctionProcessor,
  S3Bucket,
} from 'aws-cdk-lib/aws-kinesisfirehose';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { type EventCatalog, PARTITION_COLUMN, RAW_EVENTS } from '../functions/core';
import { DriftlessFunction } from './function';

export interface RawArchiveProps {
  readonly stream: IStream;
  /** The raw events' catalog: the Glue table's columns come from it. */
  readonly catalog: EventCatalog;
  /** Firehose buffering: the archive's delivery delay, which the batch layer's settle time covers. @default 60 s */
  readonly bufferInterval?: Duration;
  /** Athena refuses a query past this many bytes scanned. @default 100 GiB */
  readonly bytesScannedCutoff?: Size;
  /** @default RemovalPolicy.RETAIN for the archive bucket */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Kinesis to S3 through Firehose, filed by event-time day (dynamic partitioning from the transform
 * Lambda), with the Glue table `raw_events` over it (partition projection: no crawler, no
 * MSCK REPAIR) and the Athena workgroup the batch layer queries it in.
 */
export class RawArchive extends Construct {
  public readonly archiveBucket: Bucket;
  public readonly resultsBucket: Bucket;
  public readonly deliveryStream: DeliveryStream;
  public readonly transform: DriftlessFunction;
  public readonly database: string;
  public readonly tableName = RAW_EVENTS;
  public readonly workGroupName: string;

  constructor(scope: Construct, id: string, props: RawArchiveProps) {
    super(scope, id);
    const bucketDefaults = {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    };
    this.archiveBucket = new Bucket(this, 'Bucket', {
      ...bucketDefaults,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.resultsBucket = new Bucket(this, 'QueryResults', {
      ...bucketDefaults,
      lifecycleRules: [{ expiration: Duration.days(7) }],
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    this.transform = new DriftlessFunction(this, 'Transform', {
      handlerFile: 'functions/archive/firehose-transform.ts',
      service: 'driftless-archive',
      timeout: Duration.minutes(1),
    });
    this.deliveryStream = new DeliveryStream(this, 'DeliveryStream', {
      source: new KinesisStreamSource(props.stream),
      destination: new S3Bucket(this.archiveBucket, {
        dataOutputPrefix: `events/${PARTITION_COLUMN}=!{partitionKeyFromLambda:${PARTITION_COLUMN}}/`,
        errorOutputPrefix: 'errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/',
        compression: Compression.GZIP,
        bufferingInterval: props.bufferInterval ?? Duration.seconds(60),
        // Dynamic partitioning needs at least 64 MiB.
        bufferingSize: Size.mebibytes(64),
        processors: [new LambdaFunctionProcessor(this.transform)],
        dynamicPartitioning: { enabled: true },
      }),
    });

    // The mapping belongs to the stack, so the acknowledgment has to be made there.
    Validations.of(Stack.of(this)).acknowledge({
      id: 'CloudFormation-Validate::W7001',
      reason:
        "Firehose's L2 adds a mapping of its service CIDR blocks, used only by destinations in a VPC; this one is S3.",
    });

    const account = Stack.of(this).account;
    const database = new CfnDatabase(this, 'Database', {
      catalogId: account,
      databaseInput: {
        name: `driftless_${Stack.of(this)
          .stackName.toLowerCase()
          .replace(/[^a-z0-9_]/g, '_')}`,
      },
    });
    this.database = database.ref;
    const location = `s3://${this.archiveBucket.bucketName}/events/`;
    new CfnTable(this, 'RawEvents', {
      catalogId: account,
      databaseName: this.database,
      tableInput: {
        name: RAW_EVENTS,
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: [{ name: PARTITION_COLUMN, type: 'string' }],
        parameters: {
          classification: 'json',
          'projection.enabled': 'true',
          [`projection.${PARTITION_COLUMN}.type`]: 'date',
          [`projection.${PARTITION_COLUMN}.format`]: 'yyyy-MM-dd',
          [`projection.${PARTITION_COLUMN}.range`]: '2020-01-01,NOW',
          [`projection.${PARTITION_COLUMN}.interval`]: '1',
          [`projection.${PARTITION_COLUMN}.interval.unit`]: 'DAYS',
          'storage.location.template': `${location}${PARTITION_COLUMN}=\${${PARTITION_COLUMN}}/`,
        },
        storageDescriptor: {
          location,
          columns: Object.entries(props.catalog.fields).map(([name, spec]) => ({
            name,
            type: spec.type === 'integer' ? 'bigint' : 'string',
          })),
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          serdeInfo: { serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
        },
      },
    });

    const workGroup = new CfnWorkGroup(this, 'WorkGroup', {
      name: `driftless-${Stack.of(this).stackName}`,
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        bytesScannedCutoffPerQuery: (props.bytesScannedCutoff ?? Size.gibibytes(100)).toBytes(),
        publishCloudWatchMetricsEnabled: true,
        resultConfiguration: {
          outputLocation: `s3://${this.resultsBucket.bucketName}/results/`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });
    this.workGroupName = workGroup.ref;
  }
}
