import { CfnOutput, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
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
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { ApiAuth } from './config';

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

export interface ProxyRestApiOptions {
  readonly auth: ApiAuth;
  /** @default 50 rps, burst 100 */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /** @default 100,000 */
  readonly dailyQuota?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * The REST API in front of `fn`: a root and a `{proxy+}` Lambda proxy, authenticated and throttled, CORS
 * preflights and API Gateway's own answers in the API's error shape, access logs. Created in `scope` (the
 * serving layer), so the resources' ids are its own.
 */
export function proxyRestApi(
  scope: Construct,
  fn: IFunction,
  options: ProxyRestApiOptions,
): { api: RestApi; apiKey?: ApiKey } {
  const { auth } = options;
  const stack = Stack.of(scope);
  let apiKey: ApiKey | undefined;
  const accessLogs = new LogGroup(scope, 'AccessLogs', {
    retention: options.logRetention ?? RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const throttle = options.throttle ?? { rateLimit: 50, burstLimit: 100 };
  const authorization: MethodOptions =
    auth === 'iam' ? { authorizationType: AuthorizationType.IAM } : { apiKeyRequired: true };
  const api = new RestApi(scope, 'Api', {
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
  const root = api.root;
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
  for (const method of api.methods.filter((candidate) => candidate.httpMethod === 'OPTIONS'))
    (method.node.defaultChild as CfnMethod).addPropertyOverride(
      'Integration.ContentHandling',
      ContentHandling.CONVERT_TO_TEXT,
    );

  // API Gateway's own answers (no key, unknown method, throttled, too large, timed out, the function
  // failing) carry no CORS headers unless given here, so a browser would see a network error instead.
  for (const [type, { status, error }] of Object.entries(GATEWAY_RESPONSES)) {
    const fallback = type.startsWith('DEFAULT_');
    api.addGatewayResponse(`Response${type}`, {
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
    const plan = new UsagePlan(scope, 'UsagePlan', {
      description: 'driftless API callers',
      apiStages: [{ api: api, stage: api.deploymentStage }],
      throttle,
      quota: { limit: options.dailyQuota ?? 100_000, period: Period.DAY },
    });
    apiKey = new ApiKey(scope, 'Key', { description: 'driftless dashboards and CLI' });
    plan.addApiKey(apiKey);
    new CfnOutput(scope, 'ApiKeyId', {
      value: apiKey.keyId,
      description: 'aws apigateway get-api-key --include-value --api-key <id> prints the key',
    });
  }
  new CfnOutput(scope, 'ApiUrl', { value: api.url, description: 'The driftless API' });

  Validations.of(api).acknowledge({
    id: 'AwsSolutions-APIG3',
    reason:
      'No WAF web ACL: callers are authenticated and throttled per stage and usage plan; add a WAF in front for public exposure.',
  });
  Validations.of(api).acknowledge({
    id: 'AwsSolutions-APIG2',
    reason:
      'Requests are validated behind the proxy by the zod schemas of each route (functions/api/routes, functions/api/params.ts), which name the parameter at fault; an API Gateway validator would answer in another shape.',
  });
  Validations.of(api).acknowledge({
    id: 'AwsSolutions-COG4',
    reason: `Callers authenticate with ${auth === 'iam' ? 'IAM (SigV4)' : 'API keys under a usage plan'}, not Cognito user pools.`,
  });
  if (auth === 'apiKey')
    Validations.of(api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Every method requires an API key under a usage plan (throttle and quota): the credential a dashboard page or the CLI can send.',
    });
  return { api, ...(apiKey === undefined ? {} : { apiKey }) };
}
