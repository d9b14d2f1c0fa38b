import { Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import { CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import { CfnDatabase, CfnTable } from 'aws-cdk-lib/aws-glue';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
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
  /** The stream of raw events Firehose reads. */
  readonly stream: IStream;
  /** The raw events' catalog: the Glue table's columns come from its fields, in order. */
  readonly catalog: EventCatalog;
  /**
   * Firehose buffering: the archive's delivery delay, which the batch layer's settle time must cover.
   * @default Duration.seconds(60)
   */
  readonly bufferInterval?: Duration;
  /**
   * Athena cancels a query in the workgroup once it has scanned this much.
   * @default Size.gibibytes(100)
   */
  readonly bytesScannedCutoff?: Size;
  /** @default RemovalPolicy.RETAIN for the archive bucket */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Kinesis to S3 through Firehose, filed by event-time day (dynamic partitioning with the key from the
 * transform Lambda), the Glue table `raw_events` over it (partition projection: no crawler, no
 * MSCK REPAIR) and the Athena workgroup the batch layer queries it in.
 */
export class RawArchive extends Construct {
  public readonly archiveBucket: Bucket;
  public readonly resultsBucket: Bucket;
  public readonly deliveryStream: DeliveryStream;
  public readonly transform: DriftlessFunction;
  /** The Glue database's name. */
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
    // The archive is the source of truth the batch layer rebuilds from: kept unless told otherwise.
    this.archiveBucket = new Bucket(this, 'Bucket', {
      ...bucketDefaults,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Query results are copies, read once by the load step.
    this.resultsBucket = new Bucket(this, 'QueryResults', {
      ...bucketDefaults,
      lifecycleRules: [{ expiration: Duration.days(7) }],
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    this.transform = new DriftlessFunction(this, 'Transform', {
      handlerFile: 'functions/archive/transform.ts',
      service: 'driftless-archive',
    });
    // One role for the source and the destination; the L2 grants it stream read, bucket read-write
    // and invoke on the transform.
    const deliveryRole = new Role(this, 'DeliveryRole', {
      assumedBy: new ServicePrincipal('firehose.amazonaws.com'),
    });
    // The L2's read-write grant includes s3:DeleteObject*; Firehose only adds objects, and the archive
    // is what the batch layer rebuilds from.
    this.archiveBucket.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        principals: [deliveryRole],
        actions: ['s3:DeleteObject*'],
        resources: [this.archiveBucket.arnForObjects('*')],
      }),
    );
    this.deliveryStream = new DeliveryStream(this, 'DeliveryStream', {
      source: new KinesisStreamSource(props.stream),
      role: deliveryRole,
      destination: new S3Bucket(this.archiveBucket, {
        role: deliveryRole,
        // Event-time days: Firehose's !{timestamp:...} would be arrival time.
        dataOutputPrefix: `events/${PARTITION_COLUMN}=!{partitionKeyFromLambda:${PARTITION_COLUMN}}/`,
        errorOutputPrefix: `errors/!{firehose:error-output-type}/${PARTITION_COLUMN}=!{timestamp:yyyy-MM-dd}/`,
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

    const stack = Stack.of(this);
    const database = new CfnDatabase(this, 'Database', {
      catalogId: stack.account,
      // Glue names are lower case; one database per stack, so stages do not share tables.
      databaseInput: { name: `driftless_${stack.stackName.toLowerCase().replace(/[^a-z0-9_]/g, '_')}` },
    });
    this.database = database.ref;
    const location = `s3://${this.archiveBucket.bucketName}/events/`;
    // databaseName is the database's Ref: CloudFormation creates the database first.
    new CfnTable(this, 'RawEvents', {
      catalogId: stack.account,
      databaseName: this.database,
      tableInput: {
        name: RAW_EVENTS,
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: [{ name: PARTITION_COLUMN, type: 'string' }],
        parameters: {
          classification: 'json',
          // Partition projection: Athena computes the days, so new folders need no crawler.
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
      name: `driftless-${stack.stackName}`,
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        // Clients cannot override the cutoff, the engine or the results' place and encryption.
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
