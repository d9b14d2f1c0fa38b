import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STAGE_CONFIG } from '../../lib/config';
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

  it('requires an API key on every method by default, under a usage plan with throttle and quota', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).filter(
      (method) => method.Properties.HttpMethod !== 'OPTIONS',
    );
    expect(methods.length).toBe(11);
    for (const method of methods) expect(method.Properties.ApiKeyRequired).toBe(true);
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 50, BurstLimit: 100 },
      Quota: { Limit: 100_000, Period: 'DAY' },
    });
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
  });

  it('signs with IAM instead when the stage says so', () => {
    const iam = synthesizeStack({ ...DEFAULT_STAGE_CONFIG, apiAuth: 'iam' }).template;
    const methods = Object.values(iam.findResources('AWS::ApiGateway::Method')).filter(
      (method) => method.Properties.HttpMethod !== 'OPTIONS',
    );
    for (const method of methods) expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
    iam.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
  });

  it('throttles, traces, logs access as JSON, passes gzipped answers through and answers CORS preflights', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
      MethodSettings: [
        Match.objectLike({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100, LoggingLevel: 'ERROR' }),
      ],
    });
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: ['*/*'] });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'OPTIONS',
      Integration: Match.objectLike({
        IntegrationResponses: [
          Match.objectLike({
            ResponseParameters: Match.objectLike({
              'method.response.header.Access-Control-Allow-Origin': "'*'",
            }),
          }),
        ],
      }),
    });
  });

  it('validates the required query parameters of series and top', () => {
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestParameters: true });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      RequestParameters: {
        'method.request.querystring.from': true,
        'method.request.querystring.to': true,
        'method.request.querystring.measure': true,
      },
    });
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
