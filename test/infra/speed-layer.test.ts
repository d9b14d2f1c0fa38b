import { App, type CfnResource, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { SPEED_EVENT_SOURCE } from '../../functions/speed/settings';
import { SpeedLayer } from '../../lib/speed-layer';
import { Storage } from '../../lib/storage';

// The speed layer alone, so its grants are the only ones; synthesizing bundles the handler with
// esbuild: a broken import fails here.
const stack = new Stack(new App(), 'Test');
const speed = new SpeedLayer(stack, 'Speed', { table: new Storage(stack, 'Storage').table });
const template = Template.fromStack(stack);
const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as CfnResource);

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
const statements = (): Statement[] =>
  Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (policy) =>
      (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
const actions = (statement: Statement) => [statement.Action].flat();

describe('speed layer construct', () => {
  it('has an on-demand, encrypted stream', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
    });
  });

  it('runs the handler on nodejs24.x, arm64', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Environment: {
        Variables: Match.objectLike({ TABLE_NAME: Match.anyValue(), QUARANTINE_BUCKET: Match.anyValue() }),
      },
    });
  });

  it('maps the stream with partial batch responses, bisect, bounded retries and age, an on-failure queue, one batch per shard', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      // Without ReportBatchItemFailures, Lambda ignores batchItemFailures and retries whole batches.
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: SPEED_EVENT_SOURCE.maximumRetryAttempts,
      MaximumRecordAgeInSeconds: SPEED_EVENT_SOURCE.maximumRecordAgeMs / 1000,
      ParallelizationFactor: 1,
      BatchSize: SPEED_EVENT_SOURCE.batchSize,
      MaximumBatchingWindowInSeconds: 1,
      StartingPosition: 'TRIM_HORIZON',
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
  });

  it('keeps the on-failure queue and the quarantine bucket encrypted and TLS-only', () => {
    const queueId = logicalId(speed.failureQueue);
    const bucketId = logicalId(speed.quarantineBucket);
    expect(template.findResources('AWS::SQS::Queue')[queueId]?.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
    });
    // The storage's access log bucket is in this stack too: the quarantine bucket is the one checked.
    expect(template.findResources('AWS::S3::Bucket')[bucketId]?.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    // TLS-only: a policy on each denies everyone any request not made over TLS.
    const denyInsecure = Match.arrayWith([
      Match.objectLike({
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    ]);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: { Statement: denyInsecure },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: { Statement: denyInsecure },
    });
  });

  it('grants the function only UpdateItem, GetItem and Query on the table, and PutObject under quarantine/', () => {
    const dynamo = statements().filter((statement) =>
      actions(statement).some((action) => action.startsWith('dynamodb:')),
    );
    expect(dynamo.flatMap(actions).sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    const s3 = statements().filter((statement) =>
      actions(statement).some((action) => action.startsWith('s3:')),
    );
    expect(
      s3.flatMap(actions).every((action) => action.startsWith('s3:PutObject') || action === 's3:Abort*'),
    ).toBe(true);
    expect(JSON.stringify(s3.map((statement) => statement.Resource))).toContain('/quarantine/*');
  });

  it('lets DynamoDB expire speed items by TTL', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SPEED_RETENTION_HOURS: '72' }) },
    });
  });

  it('outputs the stream name', () => {
    expect(Object.keys(template.findOutputs('*')).some((name) => name.includes('StreamName'))).toBe(true);
  });
});
