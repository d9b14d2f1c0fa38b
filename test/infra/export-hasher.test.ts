import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { FUNCTION_METADATA_KEY } from '../../functions/commons/function';
import { exportHasherFunction } from '../../functions/exports/hasher';
import { DriftlessStack } from '../../lib/stack';
import { eventRulesOf, matchesPattern, objectCreatedEvent } from '../../local/eventbridge';
import { type CloudFormationTemplate, LocalNames } from '../../local/template';

const template = Template.fromStack(
  new DriftlessStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test'),
);
const templateJson = template.toJSON() as CloudFormationTemplate;

const idOf = (type: string, props: object) => Object.keys(template.findResources(type, props))[0] as string;
const hasherId = idOf('AWS::Lambda::Function', {
  Metadata: { [FUNCTION_METADATA_KEY]: exportHasherFunction.name },
});
const exportsBucketId = Object.keys(template.findResources('AWS::S3::Bucket')).find((id) =>
  id.startsWith('ArchiveExports'),
) as string;
const [queueId] = Object.keys(template.findResources('AWS::SQS::Queue')).filter((id) =>
  id.startsWith('ServingLostExportHashes'),
);

describe('export hasher: each export file hashed once as S3 announces it, off the API request', () => {
  it('has the exports bucket announce its objects to EventBridge by its own setting', () => {
    const notified = template.findResources('AWS::S3::Bucket', {
      Properties: { NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } } },
    });
    expect(Object.keys(notified)).toContain(exportsBucketId);
    template.resourceCountIs('Custom::S3BucketNotifications', 0);
  });

  it("routes the exports bucket's Object Created events under exports/ to the hasher, retried, then to a queue", () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ Ref: exportsBucketId }] },
          object: { key: [{ prefix: 'exports/' }] },
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [hasherId, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: hasherId },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
    });
  });

  it('gives the hasher the time to stream a multi-GB file, and only reads of export objects and PutItem', () => {
    // Prepare
    const [role] =
      template.findResources('AWS::Lambda::Function', {
        Metadata: { [FUNCTION_METADATA_KEY]: exportHasherFunction.name },
      })[hasherId]?.Properties.Role['Fn::GetAtt'] ?? [];
    const policies = Object.values(
      template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }),
    );
    // Act
    const actions = policies.flatMap((policy) =>
      policy.Properties.PolicyDocument.Statement.flatMap((statement: { Action: string | string[] }) =>
        [statement.Action].flat(),
      ),
    );
    // Assess
    expect(template.findResources('AWS::Lambda::Function')[hasherId]?.Properties.Timeout).toBe(900);
    // Its data: the table and the exports bucket (the rest is logs, traces and its failure queue).
    expect(new Set(actions.filter((action: string) => /^(dynamodb|s3):/.test(action)))).toEqual(
      new Set(['dynamodb:PutItem', 's3:GetObject']),
    );
  });

  it('runs exports in their own work group, whose results (CSV exports) land under exports/ of the exports bucket', () => {
    // Prepare
    const apiId = idOf('AWS::Lambda::Function', { Metadata: { [FUNCTION_METADATA_KEY]: 'api' } });
    const workGroupId = Object.keys(template.findResources('AWS::Athena::WorkGroup')).find((id) =>
      id.startsWith('ArchiveExportsWorkGroup'),
    );
    // Assess
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        ResultConfiguration: Match.objectLike({
          OutputLocation: { 'Fn::Join': ['', ['s3://', { Ref: exportsBucketId }, '/exports/results/']] },
        }),
      }),
    });
    expect(
      template.findResources('AWS::Lambda::Function')[apiId]?.Properties.Environment.Variables
        .ATHENA_WORKGROUP,
    ).toEqual({ Ref: workGroupId });
  });

  it('lets the API still read (only) the CSV results of exports asked for before, under results/ of the query-results bucket', () => {
    // Prepare
    const apiId = idOf('AWS::Lambda::Function', { Metadata: { [FUNCTION_METADATA_KEY]: 'api' } });
    const [role] =
      template.findResources('AWS::Lambda::Function')[apiId]?.Properties.Role['Fn::GetAtt'] ?? [];
    const resultsBucketId = Object.keys(template.findResources('AWS::S3::Bucket')).find((id) =>
      id.startsWith('ArchiveQueryResults'),
    );
    // Act
    const statements = Object.values(
      template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }),
    ).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[],
    );
    const onResults = statements.filter((statement) =>
      JSON.stringify(statement.Resource).includes(`"${resultsBucketId}"`),
    );
    // Assess
    expect(onResults).toEqual([
      expect.objectContaining({
        Action: 's3:GetObject',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [resultsBucketId, 'Arn'] }, '/results/*']] },
      }),
    ]);
  });

  it('gives the API and the hasher the exports retention: their records expire with the files', () => {
    // Prepare
    const apiId = idOf('AWS::Lambda::Function', { Metadata: { [FUNCTION_METADATA_KEY]: 'api' } });
    const functions = template.findResources('AWS::Lambda::Function');
    // Assess
    for (const id of [apiId, hasherId])
      expect(functions[id]?.Properties.Environment.Variables.EXPORTS_RETENTION_DAYS).toBe('30');
  });

  it('is matched locally as EventBridge matches it: objects under exports/ of the exports bucket only', () => {
    // Prepare
    const names = new LocalNames(templateJson);
    const [rule, ...others] = eventRulesOf(templateJson, names).filter(({ targets }) =>
      targets.includes(exportHasherFunction.name),
    );
    const bucket = names.ref(exportsBucketId);
    const event = (name: string, key: string) => objectCreatedEvent(name, { key, body: 'x' }, new Date(), 0);
    // Act
    const matched = [
      event(bucket, 'exports/0b6e/part-0.parquet'),
      event(bucket, 'exports/results/abc.csv'),
      event(bucket, 'elsewhere/abc.csv'),
      event('another-bucket', 'exports/0b6e/part-0.parquet'),
    ].map((candidate) => matchesPattern(rule?.pattern ?? {}, candidate));
    // Assess
    expect(others).toEqual([]);
    expect(matched).toEqual([true, true, false, false]);
  });
});
