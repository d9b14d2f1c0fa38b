import { Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import { CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import { CfnDatabase, CfnTable } from 'aws-cdk-lib/aws-glue';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import {
  Compression,
  DeliveryStream,
  EnableLogging,
  KinesisStreamSource,
  LambdaFunctionProcessor,
  S3Bucket,
} from 'aws-cdk-lib/aws-kinesisfirehose';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { archiveTransformFunction } from '../functions/archive/firehose-transform';
import {
  ARCHIVE_ERRORS_PREFIX,
  archiveCatalogPrefix,
  archiveDayPrefix,
  EXPORT_RESULTS_FOLDER,
  EXPORTS_PREFIX,
  QUERY_RESULTS_PREFIX,
  STAGE_DEFAULTS,
} from '../functions/commons/layout';
import {
  dayOf,
  EVENT_TYPE_FIELD,
  type EventCatalogs,
  eventsTableOf,
  PARTITION_COLUMN,
} from '../functions/core';
import { DriftlessBucket } from './bucket';
import { DriftlessFunction } from './function';
import { acknowledgeWildcardResources } from './nag';

export interface RawArchiveProps {
  readonly stream: IStream;
  /** The stack's event catalogs: one Glue table each, its columns from the catalog's fields. */
  readonly catalogs: EventCatalogs;
  /** Firehose buffering: the archive's delivery delay, which the batch layer's settle time covers. @default 60 s */
  readonly bufferInterval?: Duration;
  /** Athena refuses a query past this many bytes scanned. @default 100 GiB */
  readonly bytesScannedCutoff?: Size;
  /** @default RemovalPolicy.RETAIN for the archive and exports buckets */
  readonly removalPolicy?: RemovalPolicy;
  /** Athena query results are deleted after this long. @default STAGE_DEFAULTS.queryResultsRetentionDays */
  readonly queryResultsRetention?: Duration;
  /** Objects under EXPORTS_PREFIX are deleted after this long. @default STAGE_DEFAULTS.exportsRetentionDays */
  readonly exportsRetention?: Duration;
  /** Log retention of the transform function and of Firehose's delivery errors. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** Where the buckets write their server access logs. @default no access logs */
  readonly accessLogsBucket?: IBucket;
  /**
   * Names of the Athena workgroup and (with `_` for `-`) the Glue database.
   * @default `driftless-<stack name>`
   */
  readonly namePrefix?: string;
}

/**
 * Kinesis to S3 through Firehose, filed by catalog and event-time day (dynamic partitioning with two keys
 * from the transform Lambda), with one Glue table per catalog over its folder (`events_<catalog>`,
 * partition projection: no crawler, no MSCK REPAIR) and the Athena workgroup the batch layer queries them in.
 */
export class RawArchive extends Construct {
  public readonly archiveBucket: DriftlessBucket;
  public readonly resultsBucket: DriftlessBucket;
  /**
   * Finance exports: the serving layer writes them under EXPORTS_PREFIX, where a lifecycle
   * rule deletes them after `exportsRetention`.
   */
  public readonly exportsBucket: DriftlessBucket;
  public readonly deliveryStream: DeliveryStream;
  public readonly transform: DriftlessFunction;
  public readonly database: string;
  /** The Glue tables, one per catalog (`eventsTableOf`), in the catalogs' order. */
  public readonly tableNames: readonly string[];
  public readonly workGroupName: string;
  /**
   * The workgroup exports run in: its query results (a CSV export's file) land under EXPORTS_PREFIX of
   * the exports bucket, with the exports' retention, where the export hasher hashes every file.
   */
  public readonly exportsWorkGroupName: string;

  constructor(scope: Construct, id: string, props: RawArchiveProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const serverAccessLogsBucket = props.accessLogsBucket;
    this.archiveBucket = new DriftlessBucket(this, 'Bucket', {
      removalPolicy,
      serverAccessLogsBucket,
      serverAccessLogsPrefix: 'archive/',
    });
    this.resultsBucket = new DriftlessBucket(this, 'QueryResults', {
      lifecycleRules: [
        {
          id: 'ExpireResults',
          expiration: props.queryResultsRetention ?? Duration.days(STAGE_DEFAULTS.queryResultsRetentionDays),
        },
      ],
      // Scratch space: every result can be recomputed from the archive.
      removalPolicy: RemovalPolicy.DESTROY,
      serverAccessLogsBucket,
      serverAccessLogsPrefix: 'query-results/',
    });
    this.exportsBucket = new DriftlessBucket(this, 'Exports', {
      lifecycleRules: [
        {
          id: 'ExpireExports',
          prefix: EXPORTS_PREFIX,
          expiration: props.exportsRetention ?? Duration.days(STAGE_DEFAULTS.exportsRetentionDays),
        },
      ],
      removalPolicy,
      serverAccessLogsBucket,
      serverAccessLogsPrefix: 'exports/',
    });

    this.transform = new DriftlessFunction(this, 'Transform', {
      definition: archiveTransformFunction,
      environment: {},
      timeout: Duration.minutes(1),
      logRetention: props.logRetention,
    }).invokedSynchronouslyBy(
      `Firehose, which retries and files records it gives up on under ${ARCHIVE_ERRORS_PREFIX}`,
    );
    this.deliveryStream = new DeliveryStream(this, 'DeliveryStream', {
      source: new KinesisStreamSource(props.stream),
      destination: new S3Bucket(this.archiveBucket, {
        dataOutputPrefix: archiveDayPrefix(
          `!{partitionKeyFromLambda:${EVENT_TYPE_FIELD}}`,
          `!{partitionKeyFromLambda:${PARTITION_COLUMN}}`,
        ),
        // By arrival day: a record that failed may have no event day.
        errorOutputPrefix: `${ARCHIVE_ERRORS_PREFIX}!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/`,
        compression: Compression.GZIP,
        bufferingInterval: props.bufferInterval ?? Duration.seconds(60),
        // Dynamic partitioning needs at least 64 MiB.
        bufferingSize: Size.mebibytes(64),
        processors: [new LambdaFunctionProcessor(this.transform)],
        dynamicPartitioning: { enabled: true },
        loggingConfig: new EnableLogging(
          new LogGroup(this, 'DeliveryLogs', {
            retention: props.logRetention ?? RetentionDays.ONE_MONTH,
            removalPolicy: RemovalPolicy.DESTROY,
          }),
        ),
      }),
    });

    this.acknowledgeDeliveryFindings();

    // The mapping belongs to the stack, so the acknowledgment has to be made there.
    Validations.of(Stack.of(this)).acknowledge({
      id: 'CloudFormation-Validate::W7001',
      reason:
        "Firehose's L2 adds a mapping of its service CIDR blocks, used only by destinations in a VPC; this one is S3.",
    });

    const account = Stack.of(this).account;
    const namePrefix = props.namePrefix ?? `driftless-${Stack.of(this).stackName}`;
    const database = new CfnDatabase(this, 'Database', {
      catalogId: account,
      databaseInput: { name: namePrefix.toLowerCase().replace(/[^a-z0-9_]/g, '_') },
    });
    this.database = database.ref;
    // One table per catalog, over its folder: a view's SQL reads its catalog's table (`eventsTableOf`).
    this.tableNames = props.catalogs.all.map((catalog) => {
      const name = eventsTableOf(catalog);
      new CfnTable(this, `Events_${catalog.name}`, {
        catalogId: account,
        databaseName: this.database,
        tableInput: {
          name,
          tableType: 'EXTERNAL_TABLE',
          partitionKeys: [{ name: PARTITION_COLUMN, type: 'string' }],
          parameters: {
            classification: 'json',
            'projection.enabled': 'true',
            [`projection.${PARTITION_COLUMN}.type`]: 'date',
            [`projection.${PARTITION_COLUMN}.format`]: 'yyyy-MM-dd',
            // From the catalog's first valid day: an event the catalog accepts is never in a day Athena skips.
            [`projection.${PARTITION_COLUMN}.range`]: `${dayOf(catalog.timeRange.from)},NOW`,
            [`projection.${PARTITION_COLUMN}.interval`]: '1',
            [`projection.${PARTITION_COLUMN}.interval.unit`]: 'DAYS',
            'storage.location.template': `s3://${this.archiveBucket.bucketName}/${archiveDayPrefix(catalog.name, `\${${PARTITION_COLUMN}}`)}`,
          },
          storageDescriptor: {
            location: `s3://${this.archiveBucket.bucketName}/${archiveCatalogPrefix(catalog.name)}`,
            columns: Object.entries(catalog.fields).map(([field, spec]) => ({
              name: field,
              type: spec.type === 'integer' ? 'bigint' : 'string',
            })),
            inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
            outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
            serdeInfo: {
              serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
              // A malformed line is skipped, not a failed query (OpenX JSON SerDe's optional property:
              // https://docs.aws.amazon.com/athena/latest/ug/openx-json-serde.html).
              parameters: { 'ignore.malformed.json': 'true' },
            },
          },
        },
      });
      return name;
    });

    const workGroup = new CfnWorkGroup(this, 'WorkGroup', {
      name: namePrefix,
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        bytesScannedCutoffPerQuery: (props.bytesScannedCutoff ?? Size.gibibytes(100)).toBytes(),
        publishCloudWatchMetricsEnabled: true,
        resultConfiguration: {
          outputLocation: `s3://${this.resultsBucket.bucketName}/${QUERY_RESULTS_PREFIX}`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });
    this.workGroupName = workGroup.ref;
    const exportsWorkGroup = new CfnWorkGroup(this, 'ExportsWorkGroup', {
      name: `${namePrefix}-exports`,
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        ...workGroup.workGroupConfiguration,
        resultConfiguration: {
          outputLocation: `s3://${this.exportsBucket.bucketName}/${EXPORTS_PREFIX}${EXPORT_RESULTS_FOLDER}`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      } as CfnWorkGroup.WorkGroupConfigurationProperty,
    });
    this.exportsWorkGroupName = exportsWorkGroup.ref;
  }

  /** What cdk-nag finds on the Firehose delivery, each with why it stays. */
  private acknowledgeDeliveryFindings(): void {
    Validations.of(this.deliveryStream).acknowledge({
      id: 'AwsSolutions-KDF1',
      reason:
        'Firehose refuses server-side encryption settings on a delivery stream whose source is a Kinesis stream; records are encrypted at rest in the source stream (KMS) and in the archive bucket (SSE-S3), and in transit by TLS.',
    });
    // The L2's S3 destination role: the grants Firehose's S3 delivery documents, on this bucket only.
    const destinationRole = this.deliveryStream.node.tryFindChild('S3 Destination Role');
    if (destinationRole === undefined)
      throw new Error('the Firehose L2 no longer creates its S3 destination role');
    const firehoseS3 =
      "Firehose S3 delivery needs multipart upload, listing and object reads on the archive bucket (AWS-documented destination policy); the grant is the L2's, on this one bucket.";
    for (const action of ['s3:Abort*', 's3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*']) {
      Validations.of(destinationRole).acknowledge({
        id: `AwsSolutions-IAM5[Action::${action}]`,
        reason: firehoseS3,
      });
    }
    acknowledgeWildcardResources(destinationRole, this.archiveBucket, ['/*'], firehoseS3);
    acknowledgeWildcardResources(
      destinationRole,
      this.transform,
      [':*'],
      'Firehose invokes the transform by a qualified ARN (version or alias); the grant covers this one function.',
    );
  }
}
