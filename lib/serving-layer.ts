import { ArnFormat, type CfnResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import type { ApiKey, RestApi } from 'aws-cdk-lib/aws-apigateway';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { apiFunction } from '../functions/api/context';
import {
  EXPORTS_PREFIX,
  QUARANTINE_PREFIX,
  QUERY_RESULTS_PREFIX,
  STAGE_DEFAULTS,
} from '../functions/commons/layout';
import { type SettleSettings, settleVariables } from '../functions/commons/settle';
import { type ArchiveReferences, grantAthenaQuery, workGroupArnOf } from './athena-grants';
import { acknowledgeObjectsUnder, listingUnder, objectsUnder } from './bucket-grants';
import type { ApiAuth } from './config';
import { type ExportHasher, exportHasher } from './export-hasher';
import { DriftlessFunction } from './function';
import { proxyRestApi } from './rest-api';

export interface ServingLayerProps {
  readonly table: ITableV2;
  readonly stream: IStream;
  readonly stateMachine: StateMachine;
  readonly archive: ArchiveReferences & {
    readonly exportsBucket: IBucket;
    /** Where exports run: its results (CSV exports) are written under EXPORTS_PREFIX of the exports bucket. */
    readonly exportsWorkGroupName: string;
  };
  readonly quarantineBucket: IBucket;
  /**
   * How callers authenticate. `apiKey`: an API key (header `x-api-key`) under a usage plan with its own
   * throttle and quota: what a dashboard page or the CLI can send. `iam`: SigV4-signed requests, for
   * callers with AWS credentials.
   * @default 'apiKey'
   */
  readonly auth?: ApiAuth;
  /** How long speed items live past their bucket (the speed layer's TTL). @default STAGE_DEFAULTS.speedRetentionHours */
  readonly speedRetention?: Duration;
  /** How long a replaced manifest can be rolled back to (`POST /views/{name}/rollback`). @default STAGE_DEFAULTS.rollbackRetentionDays */
  readonly rollbackRetention?: Duration;
  /**
   * How long export objects are kept (the exports bucket's lifecycle rule): export jobs, completions and
   * file hashes expire a day after. @default STAGE_DEFAULTS.exportsRetentionDays
   */
  readonly exportsRetention?: Duration;
  /**
   * How long after the speed layer began counting a new view definition it may replace the served one.
   * @default Duration.seconds(STAGE_DEFAULTS.definitionSwitchMarginSeconds)
   */
  readonly definitionSwitchMargin?: Duration;
  /** The stage's settle setting, which `GET /views` reports. @default DEFAULT_SETTLE_SETTINGS */
  readonly settle?: SettleSettings;
  /** Steady-state and burst request limits of the stage (and of the usage plan). @default 50 rps, burst 100 */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /** Requests per day per API key. @default 100,000 */
  readonly dailyQuota?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * The serving layer: API Gateway REST in front of one Lambda whose router answers every route
 * (`functions/api/handler.ts`): the API is a root and a `{proxy+}` Lambda proxy, so routes, parameter
 * validation and their errors are declared once, in the router. API Gateway authenticates, throttles,
 * answers CORS preflights, renders its own errors in the API's error shape with CORS headers, and writes
 * access logs.
 */
export class ServingLayer extends Construct {
  public readonly api: RestApi;
  public readonly function: DriftlessFunction;
  public readonly apiKey?: ApiKey;
  /** Hashes each export file as S3 announces it: `GET /exports/{id}` only reads the hashes. */
  public readonly exportHasher: ExportHasher;

  constructor(scope: Construct, id: string, props: ServingLayerProps) {
    super(scope, id);
    const auth = props.auth ?? 'apiKey';
    const { table, stream, stateMachine, archive, quarantineBucket } = props;
    const stack = Stack.of(this);
    const exportsRetention = props.exportsRetention ?? Duration.days(STAGE_DEFAULTS.exportsRetentionDays);
    // The API queries Athena for exports only, in the exports work group, which writes its results under
    // EXPORTS_PREFIX of the exports bucket (as Parquet UNLOADs are): every export file is hashed there.
    const exportsPlace: ArchiveReferences = {
      ...archive,
      workGroupName: archive.exportsWorkGroupName,
      resultsBucket: archive.exportsBucket,
      queryResultsPrefix: EXPORTS_PREFIX,
    };

    this.function = new DriftlessFunction(this, 'Function', {
      definition: apiFunction,
      memorySize: 1024,
      // API Gateway gives up after 29 s.
      timeout: Duration.seconds(29),
      logRetention: props.logRetention,
      environment: {
        TABLE_NAME: table.tableName,
        STREAM_NAME: stream.streamName,
        STATE_MACHINE_ARN: stateMachine.stateMachineArn,
        ATHENA_WORKGROUP: archive.exportsWorkGroupName,
        GLUE_DATABASE: archive.database,
        EXPORT_BUCKET: archive.exportsBucket.bucketName,
        EXPORT_PREFIX: EXPORTS_PREFIX,
        QUARANTINE_BUCKET: quarantineBucket.bucketName,
        SPEED_RETENTION_HOURS: String(
          (props.speedRetention ?? Duration.hours(STAGE_DEFAULTS.speedRetentionHours)).toHours(),
        ),
        ROLLBACK_RETENTION_DAYS: String(
          (props.rollbackRetention ?? Duration.days(STAGE_DEFAULTS.rollbackRetentionDays)).toDays(),
        ),
        EXPORTS_RETENTION_DAYS: String(exportsRetention.toDays()),
        DEFINITION_SWITCH_MARGIN_SECONDS: String(
          (
            props.definitionSwitchMargin ?? Duration.seconds(STAGE_DEFAULTS.definitionSwitchMarginSeconds)
          ).toSeconds(),
        ),
        ...settleVariables(props.settle),
      },
    }).invokedSynchronouslyBy('API Gateway');
    const fn = this.function;
    const role = fn.role as NonNullable<typeof fn.role>;

    // Reads: manifests, batch and speed items, drift reports, export jobs. Writes: export jobs, and a
    // rollback's manifest (one conditional PutItem), its history entry and its ledger entries.
    table.grant(fn, 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem');
    stream.grant(fn, 'kinesis:PutRecords');
    stateMachine.grantStartExecution(fn);
    const executions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executions] }),
    );

    // Exports: Athena runs them with this function's credentials (CSV results and Parquet UNLOADs, both
    // under the exports prefix), and the function lists and presigns their files.
    grantAthenaQuery(fn, role, exportsPlace, EXPORTS_PREFIX);
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['athena:GetQueryRuntimeStatistics'],
        resources: [workGroupArnOf(this, exportsPlace)],
      }),
    );
    // CSV exports asked for before exports had their own work group have their file in the query-results
    // bucket: their download links are presigned by this function, so it still reads them (read-only)
    // until that bucket's lifecycle rule (queryResultsRetentionDays) has deleted them.
    const oldResultsPrefix = archive.queryResultsPrefix ?? QUERY_RESULTS_PREFIX;
    fn.addToRolePolicy(objectsUnder(archive.resultsBucket, oldResultsPrefix, ['s3:GetObject']));
    acknowledgeObjectsUnder(
      role,
      archive.resultsBucket,
      oldResultsPrefix,
      `Downloads of CSV exports written before exports had their own work group: Athena named them by query id under ${oldResultsPrefix}; read-only.`,
    );
    this.exportHasher = exportHasher(
      this,
      table,
      archive.exportsBucket,
      exportsRetention,
      props.logRetention,
    );
    // GET /quarantine lists and reads quarantined records.
    fn.addToRolePolicy(listingUnder(quarantineBucket, QUARANTINE_PREFIX));
    fn.addToRolePolicy(objectsUnder(quarantineBucket, QUARANTINE_PREFIX, ['s3:GetObject']));
    acknowledgeObjectsUnder(
      role,
      quarantineBucket,
      QUARANTINE_PREFIX,
      'Quarantined records are one object each, keyed by their sequence number; the API reads them.',
    );
    const machineId = stack.getLogicalId(stateMachine.node.defaultChild as CfnResource);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${machineId}.Name>:*]`,
      reason:
        'DescribeExecution on the batch state machine’s executions, named by run id when the API starts them.',
    });

    ({ api: this.api, apiKey: this.apiKey } = proxyRestApi(this, fn, {
      auth,
      throttle: props.throttle,
      dailyQuota: props.dailyQuota,
      logRetention: props.logRetention,
    }));
  }
}
