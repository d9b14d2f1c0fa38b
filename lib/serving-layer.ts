import {
  ArnFormat,
  CfnOutput,
  type CfnResource,
  Duration,
  RemovalPolicy,
  Stack,
  Validations,
} from 'aws-cdk-lib';
import {
  AccessLogFormat,
  ApiKey,
  ApiKeySourceType,
  AuthorizationType,
  type CfnMethod,
  ContentHandling,
  Cors,
  type CorsOptions,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  type MethodOptions,
  Period,
  ResponseType,
  RestApi,
  UsagePlan,
} from 'aws-cdk-lib/aws-apigateway';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { apiFunction } from '../functions/api/context';
import { QUARANTINE_PREFIX } from '../functions/speed/quarantine';
import { type ArchiveReferences, grantAthenaQuery } from './batch-layer';
import { type ApiAuth, DEFAULT_STAGE_CONFIG } from './config';
import { DriftlessFunction } from './function';
import { acknowledgeWildcardResources } from './nag';
import { EXPORTS_PREFIX, QUERY_RESULTS_PREFIX } from './raw-archive';

export interface ServingLayerProps {
  readonly table: ITableV2;
  readonly stream: IStream;
  readonly stateMachine: StateMachine;
  readonly archive: ArchiveReferences & { readonly exportsBucket: IBucket };
  readonly quarantineBucket: IBucket;
  /**
   * How callers authenticate. `apiKey`: an API key (header `x-api-key`) under a usage plan with its own
   * throttle and quota: what a dashboard page or the CLI can send. `iam`: SigV4-signed requests, for
   * callers with AWS credentials.
   * @default 'apiKey'
   */
  readonly auth?: ApiAuth;
  /** How long speed items live past their bucket (the speed layer's TTL). @default 72 hours */
  readonly speedRetention?: Duration;
  /** Steady-state and burst request limits of the stage (and of the usage plan). @default 50 rps, burst 100 */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /** Requests per day per API key. @default 100,000 */
  readonly dailyQuota?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/** Headers a browser may send to the API: CDK's defaults (X-Api-Key among them). */
const ALLOWED_HEADERS = Cors.DEFAULT_HEADERS;
const ALLOWED_METHODS = ['GET', 'POST', 'OPTIONS'];

/**
 * Every answer API Gateway makes itself, with the status it gives it and the error name of the API's
 * Error schema (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).
 * Each type is declared with its own status, so the DEFAULT_4XX and DEFAULT_5XX fallbacks only see answers
 * that have no type.
 */
export const GATEWAY_RESPONSES: Readonly<
  Record<string, { readonly status: number; readonly error: string }>
> = {
  ACCESS_DENIED: { status: 403, error: 'Forbidden' },
  API_CONFIGURATION_ERROR: { status: 500, error: 'Internal Server Error' },
  AUTHORIZER_CONFIGURATION_ERROR: { status: 500, error: 'Internal Server Error' },
  AUTHORIZER_FAILURE: { status: 500, error: 'Internal Server Error' },
  BAD_REQUEST_BODY: { status: 400, error: 'Bad Request' },
  BAD_REQUEST_PARAMETERS: { status: 400, error: 'Bad Request' },
  EXPIRED_TOKEN: { status: 403, error: 'Forbidden' },
  INTEGRATION_FAILURE: { status: 504, error: 'Gateway Timeout' },
  INTEGRATION_TIMEOUT: { status: 504, error: 'Gateway Timeout' },
  INVALID_API_KEY: { status: 403, error: 'Forbidden' },
  INVALID_SIGNATURE: { status: 403, error: 'Forbidden' },
  MISSING_AUTHENTICATION_TOKEN: { status: 403, error: 'Forbidden' },
  QUOTA_EXCEEDED: { status: 429, error: 'Too Many Requests' },
  REQUEST_TOO_LARGE: { status: 413, error: 'Content Too Large' },
  RESOURCE_NOT_FOUND: { status: 404, error: 'Not Found' },
  THROTTLED: { status: 429, error: 'Too Many Requests' },
  UNAUTHORIZED: { status: 401, error: 'Unauthorized' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, error: 'Unsupported Media Type' },
  WAF_FILTERED: { status: 403, error: 'Forbidden' },
  // The fallbacks keep API Gateway's status (setting theirs would override every other type's). A
  // template cannot read the status, so the body names the usual one: the only untyped 5xx answers are
  // the Lambda function's failures (an error, a malformed or oversized result), which API Gateway
  // answers 502.
  DEFAULT_4XX: { status: 400, error: 'Bad Request' },
  DEFAULT_5XX: { status: 502, error: 'Bad Gateway' },
};

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

  constructor(scope: Construct, id: string, props: ServingLayerProps) {
    super(scope, id);
    const auth = props.auth ?? 'apiKey';
    const { table, stream, stateMachine, archive, quarantineBucket } = props;
    const stack = Stack.of(this);
    const resultsPrefix = archive.queryResultsPrefix ?? QUERY_RESULTS_PREFIX;

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
        ATHENA_WORKGROUP: archive.workGroupName,
        GLUE_DATABASE: archive.database,
        EXPORT_BUCKET: archive.exportsBucket.bucketName,
        EXPORT_PREFIX: EXPORTS_PREFIX,
        QUARANTINE_BUCKET: quarantineBucket.bucketName,
        SPEED_RETENTION_HOURS: String(
          (props.speedRetention ?? Duration.hours(DEFAULT_STAGE_CONFIG.speedRetentionHours)).toHours(),
        ),
      },
    }).invokedSynchronouslyBy('API Gateway');
    const fn = this.function;
    const role = fn.role as NonNullable<typeof fn.role>;

    // Reads: manifests, batch and speed items, drift reports, export jobs. Writes: export jobs only.
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

    // Exports: Athena runs them with this function's credentials (CSV results under results/, Parquet
    // UNLOADed under exports/), and the function presigns downloads of both.
    const workGroupArn = stack.formatArn({
      service: 'athena',
      resource: 'workgroup',
      resourceName: archive.workGroupName,
    });
    grantAthenaQuery(fn, role, archive, workGroupArn, resultsPrefix);
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['athena:GetQueryRuntimeStatistics'], resources: [workGroupArn] }),
    );
    const exportsBucket = archive.exportsBucket;
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        resources: [exportsBucket.arnForObjects(`${EXPORTS_PREFIX}*`)],
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket', 's3:ListBucketMultipartUploads'],
        resources: [exportsBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [EXPORTS_PREFIX, `${EXPORTS_PREFIX}*`] } },
      }),
    );
    // GetBucketLocation carries no s3:prefix, so it cannot share the condition above.
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['s3:GetBucketLocation'], resources: [exportsBucket.bucketArn] }),
    );
    acknowledgeWildcardResources(
      role,
      exportsBucket,
      [`/${EXPORTS_PREFIX}*`],
      'Each export is written by Athena UNLOAD under exports/<export id>/ with names Athena chooses; the function lists and presigns them.',
    );
    // GET /quarantine lists and reads quarantined records.
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [quarantineBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [QUARANTINE_PREFIX, `${QUARANTINE_PREFIX}*`] } },
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [quarantineBucket.arnForObjects(`${QUARANTINE_PREFIX}*`)],
      }),
    );
    acknowledgeWildcardResources(
      role,
      quarantineBucket,
      [`/${QUARANTINE_PREFIX}*`],
      'Quarantined records are one object each, keyed by their sequence number; the API reads them.',
    );
    const machineId = stack.getLogicalId(stateMachine.node.defaultChild as CfnResource);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${machineId}.Name>:*]`,
      reason:
        'DescribeExecution on the batch state machine’s executions, named by run id when the API starts them.',
    });

    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const throttle = props.throttle ?? { rateLimit: 50, burstLimit: 100 };
    const authorization: MethodOptions =
      auth === 'iam' ? { authorizationType: AuthorizationType.IAM } : { apiKeyRequired: true };
    this.api = new RestApi(this, 'Api', {
      restApiName: `${stack.stackName}-api`,
      description:
        'driftless: views served from the batch layer below the watermark, the speed layer from it on',
      // The account's logging role is the account stack's (lib/account.ts), not a stage's to delete.
      cloudWatchRole: false,
      apiKeySourceType: ApiKeySourceType.HEADER,
      // The function gzips large answers itself (series answers are compressed once and reused), so
      // API Gateway passes bodies through as binary rather than compressing them again.
      binaryMediaTypes: ['*/*'],
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        throttlingRateLimit: throttle.rateLimit,
        throttlingBurstLimit: throttle.burstLimit,
      },
      defaultMethodOptions: authorization,
    });
    const integration = new LambdaIntegration(fn, { proxy: true });
    const root = this.api.root;
    root.addMethod('ANY', integration);
    // Added to the root first: a proxy under the root would add its method there too, without options.
    const proxy = root.addProxy({ anyMethod: false });
    proxy.addMethod('ANY', integration);

    // Dashboards are static pages served from anywhere; the credential is the key, not the origin.
    const cors: CorsOptions = {
      allowOrigins: Cors.ALL_ORIGINS,
      allowHeaders: ALLOWED_HEADERS,
      allowMethods: ALLOWED_METHODS,
    };
    root.addCorsPreflight(cors);
    proxy.addCorsPreflight(cors);
    // Under binary media types `*/*` every request is binary, and a MOCK integration cannot turn it into
    // its request template: the preflight answers 500 "Unable to transform request" unless converted.
    for (const method of this.api.methods.filter((candidate) => candidate.httpMethod === 'OPTIONS'))
      (method.node.defaultChild as CfnMethod).addPropertyOverride(
        'Integration.ContentHandling',
        ContentHandling.CONVERT_TO_TEXT,
      );

    // API Gateway's own answers (no key, unknown method, throttled, too large, timed out, the function
    // failing) carry no CORS headers unless given here, so a browser would see a network error instead.
    for (const [type, { status, error }] of Object.entries(GATEWAY_RESPONSES)) {
      const fallback = type.startsWith('DEFAULT_');
      this.api.addGatewayResponse(`Response${type}`, {
        type: ResponseType.of(type),
        ...(fallback ? {} : { statusCode: String(status) }),
        responseHeaders: {
          'Access-Control-Allow-Origin': "'*'",
          'Access-Control-Allow-Headers': `'${ALLOWED_HEADERS.join(',')}'`,
          'Access-Control-Allow-Methods': `'${ALLOWED_METHODS.join(',')}'`,
        },
        templates: {
          'application/json': `{"statusCode":${status},"error":"${error}","message":$context.error.messageString,"details":{"responseType":"$context.error.responseType"}}`,
        },
      });
    }

    if (auth === 'apiKey') {
      const plan = new UsagePlan(this, 'UsagePlan', {
        description: 'driftless API callers',
        apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
        throttle,
        quota: { limit: props.dailyQuota ?? 100_000, period: Period.DAY },
      });
      this.apiKey = new ApiKey(this, 'Key', { description: 'driftless dashboards and CLI' });
      plan.addApiKey(this.apiKey);
      new CfnOutput(this, 'ApiKeyId', {
        value: this.apiKey.keyId,
        description: 'aws apigateway get-api-key --include-value --api-key <id> prints the key',
      });
    }
    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'The driftless API' });

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'No WAF web ACL: callers are authenticated and throttled per stage and usage plan; add a WAF in front for public exposure.',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        'Requests are validated by the router behind the proxy (functions/api/app.ts), which names the parameter at fault; an API Gateway validator would answer in another shape.',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: `Callers authenticate with ${auth === 'iam' ? 'IAM (SigV4)' : 'API keys under a usage plan'}, not Cognito user pools.`,
    });
    if (auth === 'apiKey')
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'Every method requires an API key under a usage plan (throttle and quota): the credential a dashboard page or the CLI can send.',
      });
  }
}
