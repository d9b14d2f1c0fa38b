import type { CfnResource } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EXPORTS_PREFIX } from '../../functions/commons/layout';
import { BATCH_STATES } from '../../lib/batch-layer';
import { DEFAULT_STAGE_CONFIG, type StageConfig } from '../../lib/config';
import { type CloudFormationTemplate, streamShardsOf } from '../../local/template';
import { policyStatements, renderIntrinsics, synthesizeStack } from '../support/template';

// A stage that changes every setting from its default, so each assertion proves the value flows.
const config: StageConfig = {
  ...DEFAULT_STAGE_CONFIG,
  prefix: 'driftless-qa',
  batchSchedule: 'cron(0 */2 * * ? *)',
  settleMinutes: 20,
  graceMinutes: 240,
  rollbackRetentionDays: 3,
  speedRetentionHours: 48,
  definitionSwitchMarginSeconds: 240,
  logRetentionDays: 90,
  athenaBytesScannedCutoffGiB: 50,
  queryResultsRetentionDays: 3,
  exportsRetentionDays: 14,
  removalPolicy: 'destroy',
  streamCapacity: 'provisioned',
  streamShards: 3,
  speedBatchingWindowSeconds: 5,
  alarms: { ...DEFAULT_STAGE_CONFIG.alarms, iteratorAgeSeconds: 90, driftRatio: 0.02 },
};
const { stack, template } = synthesizeStack(config);
const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as CfnResource);
const buckets = () => template.findResources('AWS::S3::Bucket');
const accessLogsId = logicalId(stack.storage.accessLogsBucket);

type State = { Type: string; Resource?: string; Parameters?: Record<string, unknown> };
const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
const definition = JSON.parse(renderIntrinsics(machine?.Properties.DefinitionString)) as {
  States: Record<string, State & { ItemProcessor?: { States: Record<string, State> } }>;
};

describe('stage settings in the template', () => {
  it('schedules the batch run with the stage expression, and the settle and grace times reach the steps', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 */2 * * ? *)' });
    const batchFunctions = template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'driftless-batch' } } },
    });
    expect(Object.keys(batchFunctions)).toHaveLength(5);
    for (const fn of Object.values(batchFunctions)) {
      expect(fn.Properties.Environment.Variables).toMatchObject({
        SETTLE_MINUTES: '20',
        GRACE_MINUTES: '240',
      });
    }
    // The API reports the settle time (`GET /views`): the five steps and it read the same variables.
    const settleReaders = template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { SETTLE_MINUTES: '20', SETTLE_WINDOW_DAYS: '7' } } },
    });
    expect(Object.keys(settleReaders)).toHaveLength(6);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SPEED_RETENTION_HOURS: '48' }) },
    });
    // Clean-up keeps rollback targets this long, the API's rollback refuses older ones, and the speed
    // layer counts a replaced view version as long: the same value.
    const rollbackReaders = template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { ROLLBACK_RETENTION_DAYS: '3' } } },
    });
    expect(Object.keys(rollbackReaders)).toHaveLength(7);
    // The batch steps switch a new view definition in, and the API reports when, with the same margin.
    const marginReaders = template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { DEFINITION_SWITCH_MARGIN_SECONDS: '240' } } },
    });
    expect(Object.keys(marginReaders)).toHaveLength(6);
  });

  it('keeps every log group (functions, Firehose, the state machine, API access logs) for the stage retention', () => {
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    expect(groups.length).toBe(13);
    for (const group of groups) expect(group.Properties.RetentionInDays).toBe(90);
  });

  it('provisions the stream with the stage shard count, and batches the speed mapping over its window', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
      ShardCount: 3,
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumBatchingWindowInSeconds: 5 });
  });

  it("gives the local run the provisioned stream's shard count, and none for an on-demand stream", () => {
    expect(streamShardsOf(template.toJSON() as CloudFormationTemplate)).toBe(3);
    expect(streamShardsOf(synthesizeStack().template.toJSON() as CloudFormationTemplate)).toBeNull();
  });

  it('keeps an on-demand stream without a shard count, and a window of 0 as 0', () => {
    const onDemand = synthesizeStack({ ...DEFAULT_STAGE_CONFIG, speedBatchingWindowSeconds: 0 }).template;
    onDemand.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      ShardCount: Match.absent(),
    });
    onDemand.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumBatchingWindowInSeconds: 0 });
  });

  it('caps what one Athena query may scan, in a workgroup named by the stage prefix', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'driftless-qa',
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 50 * 1024 ** 3,
      }),
    });
  });

  it('expires Athena query results and old exports by lifecycle rules', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Id: 'ExpireResults', ExpirationInDays: 3, Status: 'Enabled' }),
        ]),
      },
    });
    const exportsBucket = buckets()[logicalId(stack.archive.exportsBucket)];
    expect(exportsBucket?.Properties.LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Id: 'ExpireExports', Prefix: EXPORTS_PREFIX, ExpirationInDays: 14 }),
        expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
      ]),
    );
  });

  it('expires speed items by DynamoDB TTL', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('alarms at the stage thresholds', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Threshold: 90_000,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'driftRatio', Threshold: 0.02 });
  });

  it('deletes the table and empties the buckets on `cdk destroy` when the stage says destroy', () => {
    template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Delete' });
    for (const bucket of Object.values(buckets())) expect(bucket.DeletionPolicy).toBe('Delete');
    template.resourceCountIs('Custom::S3AutoDeleteObjects', Object.keys(buckets()).length);
  });

  it('retains the table, archive, quarantine and exports by default', () => {
    const retained = synthesizeStack().template;
    retained.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain' });
    const retainedBuckets = Object.values(retained.findResources('AWS::S3::Bucket')).filter(
      (bucket) => bucket.DeletionPolicy === 'Retain',
    );
    // All but the Athena results, which are scratch space.
    expect(retainedBuckets).toHaveLength(Object.keys(retained.findResources('AWS::S3::Bucket')).length - 1);
  });
});

describe('encryption, TLS and access logs', () => {
  it('encrypts the stream (KMS), the table, every bucket (SSE-S3) and the queue at rest', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', { StreamEncryption: { EncryptionType: 'KMS' } });
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', { SSESpecification: { SSEEnabled: true } });
    template.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    expect(Object.keys(buckets())).toHaveLength(5);
    template.allResourcesProperties('AWS::S3::Bucket', {
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
  });

  it('refuses plain HTTP on every bucket and the queue', () => {
    const denied = policyStatements(template)
      .filter(
        ({ statement }) =>
          statement.Effect === 'Deny' && statement.Condition?.Bool?.['aws:SecureTransport'] === 'false',
      )
      .flatMap(({ statement }) => [statement.Resource].flat().map(renderIntrinsics));
    for (const id of Object.keys(buckets())) expect(denied).toContain(`\${${id}.Arn}`);
    expect(denied).toContain(`\${${logicalId(stack.speed.failureQueue)}.Arn}`);
  });

  it('writes server access logs of every data bucket to the access log bucket', () => {
    const logged = Object.entries(buckets()).filter(([id]) => id !== accessLogsId);
    expect(logged).toHaveLength(4);
    for (const [, bucket] of logged) {
      expect(bucket.Properties.LoggingConfiguration).toMatchObject({
        DestinationBucketName: { Ref: accessLogsId },
      });
    }
  });

  it('traces every function with X-Ray and gives each its own role, without AWS managed policies', () => {
    const functions = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { POWERTOOLS_SERVICE_NAME: Match.anyValue() } } },
      }),
    );
    expect(functions).toHaveLength(10);
    for (const fn of functions) expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: Match.objectLike({}) },
    });
    for (const [id, role] of Object.entries(roles)) {
      // API Gateway's account-level logging role is AWS's own (acknowledged with its reason).
      if (id.startsWith('CustomS3AutoDeleteObjects') || id.startsWith('ServingApiCloudWatchRole')) continue;
      expect(role.Properties.ManagedPolicyArns, id).toBeUndefined();
    }
  });

  it('logs every state machine transition, without payloads, and traces runs with X-Ray', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
      TracingConfiguration: { Enabled: true },
    });
  });
});

describe('batch wiring', () => {
  it('has the Scheduler schedule start this state machine, with a role that may start only it', () => {
    const machineId = logicalId(stack.batch.stateMachine);
    const [schedule] = Object.values(template.findResources('AWS::Scheduler::Schedule'));
    expect(schedule?.Properties.Target.Arn).toEqual({ Ref: machineId });
    const roleArn = schedule?.Properties.Target.RoleArn as { 'Fn::GetAtt': [string, string] };
    const roleId = roleArn['Fn::GetAtt'][0];
    const policies = template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: roleId }] },
    });
    const starts = Object.values(policies).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement as { Action: string; Resource: unknown }[],
    );
    expect(starts).toEqual([
      expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: machineId } }),
    ]);
  });

  it.each([
    [BATCH_STATES.plan, 'plan'],
    [BATCH_STATES.commit, 'commit'],
    [BATCH_STATES.reconcile, 'reconcile'],
    [BATCH_STATES.cleanup, 'cleanup'],
  ] as const)('points the %s task at the %s function', (state, step) => {
    expect(definition.States[state]?.Resource).toBe(`\${${logicalId(stack.batch.functions[step])}.Arn}`);
  });

  it('points the Load task at the load function and the Query task at Athena (.sync) in the workgroup', () => {
    const perView = definition.States[BATCH_STATES.perView]?.ItemProcessor?.States ?? {};
    expect(perView[BATCH_STATES.load]?.Resource).toBe(`\${${logicalId(stack.batch.functions.load)}.Arn}`);
    const query = perView[BATCH_STATES.query];
    expect(query?.Resource).toBe(`arn:\${AWS::Partition}:states:::athena:startQueryExecution.sync`);
    expect(query?.Parameters?.WorkGroup).toMatch(/^\$\{ArchiveWorkGroup\w+\}$/);
  });
});
