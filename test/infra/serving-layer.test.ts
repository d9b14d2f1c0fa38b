import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STAGE_CONFIG } from '../../lib/config';
import { GATEWAY_RESPONSES } from '../../lib/rest-api';
import { policyStatements, synthesizeStack } from '../support/template';

const { template } = synthesizeStack();
const actionsOf = (statement: { Action?: string | string[] }) =>
  typeof statement.Action === 'string' ? [statement.Action] : (statement.Action ?? []);

describe('the serving layer', () => {
  it('runs the API handler on nodejs24.x with every variable its config reads', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Timeout: 29,
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: Match.anyValue(),
          STREAM_NAME: Match.anyValue(),
          STATE_MACHINE_ARN: Match.anyValue(),
          ATHENA_WORKGROUP: Match.anyValue(),
          GLUE_DATABASE: Match.anyValue(),
          EXPORT_BUCKET: Match.anyValue(),
          EXPORT_PREFIX: 'exports/',
          QUARANTINE_BUCKET: Match.anyValue(),
          SPEED_RETENTION_HOURS: String(DEFAULT_STAGE_CONFIG.speedRetentionHours),
        }),
      },
    });
  });

  const methods = (from = template) =>
    Object.values(from.findResources('AWS::ApiGateway::Method')) as {
      Properties: Record<string, unknown> & { HttpMethod: string; Integration: Record<string, unknown> };
    }[];

  it('declares no route of its own: the root and {proxy+} pass every method to the function', () => {
    template.resourceCountIs('AWS::ApiGateway::Resource', 1);
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
    const proxied = methods().filter((method) => method.Properties.HttpMethod !== 'OPTIONS');
    expect(proxied.map((method) => method.Properties.HttpMethod)).toEqual(['ANY', 'ANY']);
    for (const method of proxied) expect(method.Properties.Integration.Type).toBe('AWS_PROXY');
  });

  it('leaves parameter validation to the router: no request validator, no required parameters', () => {
    template.resourceCountIs('AWS::ApiGateway::RequestValidator', 0);
    for (const method of methods()) expect(method.Properties.RequestParameters).toBeUndefined();
  });

  it('requires an API key on every proxied method by default, under a usage plan with throttle and quota', () => {
    const proxied = methods().filter((method) => method.Properties.HttpMethod !== 'OPTIONS');
    for (const method of proxied) expect(method.Properties.ApiKeyRequired).toBe(true);
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 50, BurstLimit: 100 },
      Quota: { Limit: 100_000, Period: 'DAY' },
    });
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
  });

  it('signs with IAM instead when the stage says so', () => {
    const iam = synthesizeStack({ ...DEFAULT_STAGE_CONFIG, apiAuth: 'iam' }).template;
    const proxied = methods(iam).filter((method) => method.Properties.HttpMethod !== 'OPTIONS');
    expect(proxied).toHaveLength(2);
    for (const method of proxied) expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
    iam.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
  });

  it('throttles, traces, logs access as JSON and passes gzipped answers through as binary', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
      MethodSettings: [
        Match.objectLike({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100, LoggingLevel: 'ERROR' }),
      ],
    });
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: ['*/*'] });
  });

  it('answers CORS preflights on the root and {proxy+} without a key, converting the binary request to text', () => {
    const preflights = methods().filter((method) => method.Properties.HttpMethod === 'OPTIONS');
    expect(preflights).toHaveLength(2);
    for (const preflight of preflights) {
      expect(preflight.Properties).toMatchObject({ ApiKeyRequired: false, AuthorizationType: 'NONE' });
      expect(preflight.Properties.Integration).toMatchObject({
        Type: 'MOCK',
        ContentHandling: 'CONVERT_TO_TEXT',
        IntegrationResponses: [
          {
            ResponseParameters: expect.objectContaining({
              'method.response.header.Access-Control-Allow-Origin': "'*'",
              'method.response.header.Access-Control-Allow-Headers': expect.stringContaining('X-Api-Key'),
            }),
          },
        ],
      });
    }
  });

  it.each(Object.entries(GATEWAY_RESPONSES))(
    'answers API Gateway’s own %s in the API’s error shape, with CORS headers',
    (type, { status, error }) => {
      const fallback = type.startsWith('DEFAULT_');
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        // The fallbacks keep API Gateway's status: theirs would override every other type's.
        StatusCode: fallback ? Match.absent() : String(status),
        ResponseParameters: {
          'gatewayresponse.header.Access-Control-Allow-Origin': "'*'",
          'gatewayresponse.header.Access-Control-Allow-Headers': Match.stringLikeRegexp('X-Api-Key'),
          'gatewayresponse.header.Access-Control-Allow-Methods': "'GET,POST,OPTIONS'",
        },
        ResponseTemplates: {
          'application/json': Match.stringLikeRegexp(
            `^\\{"statusCode":${status},"error":"${error}","message":\\$context\\.error\\.messageString,`,
          ),
        },
      });
    },
  );

  it('declares a gateway response for at least the types a caller meets', () => {
    const declared = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse')).map(
      (response) => response.Properties.ResponseType,
    );
    expect(declared).toEqual(
      expect.arrayContaining([
        'DEFAULT_4XX',
        'DEFAULT_5XX',
        'THROTTLED',
        'INVALID_API_KEY',
        'MISSING_AUTHENTICATION_TOKEN',
        'QUOTA_EXCEEDED',
        'REQUEST_TOO_LARGE',
        'INTEGRATION_TIMEOUT',
        'ACCESS_DENIED',
      ]),
    );
  });

  it('may put records, start and describe batch runs, and read the table, and nothing broader', () => {
    const functionPolicy = policyStatements(template)
      .filter(({ source }) => source.startsWith('ServingFunctionRoleDefaultPolicy'))
      .flatMap(({ statement }) => actionsOf(statement));
    expect(functionPolicy).toEqual(
      expect.arrayContaining([
        'kinesis:PutRecords',
        'states:StartExecution',
        'states:DescribeExecution',
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:PutItem',
        'athena:StartQueryExecution',
        'athena:GetQueryRuntimeStatistics',
      ]),
    );
    for (const action of functionPolicy)
      expect(action).not.toMatch(/^dynamodb:(DeleteItem|UpdateItem|Scan|BatchWriteItem)$/);
  });
});
