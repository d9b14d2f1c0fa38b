import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { catalogs } from '../../events';
import { archiveMarkerFunction } from '../../functions/batch/marker';
import { FUNCTION_METADATA_KEY } from '../../functions/commons/function';
import { dayOf } from '../../functions/core';
import {
  ATHENA_TRANSIENT_ERRORS,
  BATCH_STATES,
  LAMBDA_TRANSIENT_ERRORS,
  RUN_INCOMPLETE_ERROR,
} from '../../lib/batch-layer';
import { DriftlessStack } from '../../lib/stack';
import { eventRulesOf, matchesPattern, objectCreatedEvent } from '../../local/eventbridge';
import {
  archiveLocationOf,
  type CloudFormationTemplate,
  functionNameOfArn,
  LocalNames,
  stateMachineDefinitionOf,
} from '../../local/template';

const template = Template.fromStack(
  new DriftlessStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test'),
);

type Retrier = {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: string;
};
type State = {
  Type: string;
  Resource?: string;
  Next?: string;
  End?: boolean;
  ResultPath?: string | null;
  Retry?: Retrier[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  Choices?: { Variable: string; IsNull?: boolean; Next: string }[];
  Parameters?: Record<string, unknown>;
  OutputPath?: string;
  Default?: string;
  Error?: string;
  CausePath?: string;
  ItemProcessor?: { StartAt: string; States: Record<string, State> };
};
const templateJson = template.toJSON() as CloudFormationTemplate;
const definition = stateMachineDefinitionOf(templateJson, new LocalNames(templateJson)) as {
  StartAt: string;
  States: Record<string, State>;
  QueryLanguage?: string;
};

describe('raw archive', () => {
  it('delivers the stream to S3 by catalog and event-time day, gzip, through the transform Lambda, with dynamic partitioning', () => {
    template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamType: 'KinesisStreamAsSource',
      ExtendedS3DestinationConfiguration: Match.objectLike({
        Prefix: 'events/!{partitionKeyFromLambda:type}/dt=!{partitionKeyFromLambda:dt}/',
        CompressionFormat: 'GZIP',
        BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 64 },
        DynamicPartitioningConfiguration: { Enabled: true },
        ProcessingConfiguration: Match.objectLike({
          Enabled: true,
          Processors: [Match.objectLike({ Type: 'Lambda' })],
        }),
      }),
    });
  });

  it.each(catalogs.all.map((catalog) => [catalog.name, catalog]))(
    'has a Glue table events_%s over its folder, its columns the catalog fields, partitioned by dt with projection',
    (_, catalog) => {
      template.hasResourceProperties('AWS::Glue::Table', {
        TableInput: Match.objectLike({
          Name: `events_${catalog.name}`,
          PartitionKeys: [{ Name: 'dt', Type: 'string' }],
          Parameters: Match.objectLike({
            'projection.enabled': 'true',
            'projection.dt.type': 'date',
            'projection.dt.format': 'yyyy-MM-dd',
            'projection.dt.range': `${dayOf(catalog.timeRange.from)},NOW`,
            'storage.location.template': Match.objectLike({
              'Fn::Join': ['', Match.arrayWith([`/events/${catalog.name}/dt=\${dt}/`])],
            }),
          }),
          StorageDescriptor: Match.objectLike({
            Location: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([`/events/${catalog.name}/`])] }),
            Columns: Object.entries(catalog.fields).map(([name, spec]) => ({
              Name: name,
              Type: spec.type === 'integer' ? 'bigint' : 'string',
            })),
            SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
          }),
        }),
      });
    },
  );

  it('has one Glue table per catalog and no other', () => {
    expect(Object.keys(template.findResources('AWS::Glue::Table'))).toHaveLength(catalogs.all.length);
  });

  it('queries in an Athena engine 3 workgroup with enforced results location and a bytes-scanned cutoff', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 100 * 1024 ** 3,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: Match.objectLike({ EncryptionConfiguration: { EncryptionOption: 'SSE_S3' } }),
      }),
    });
  });
});

describe('batch state machine', () => {
  it('is a Standard workflow on JSONPath: plan, count skipped lines, find distant copies, per view query and load, then commit, reconcile, clean up', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineType: 'STANDARD' });
    expect(definition.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    const order: string[] = [];
    for (
      let name: string | undefined = definition.StartAt;
      name !== undefined;
      name = definition.States[name]?.Next
    ) {
      order.push(name);
    }
    expect(order).toEqual([
      BATCH_STATES.plan,
      BATCH_STATES.countSkippedLines,
      BATCH_STATES.findDistantCopies,
      BATCH_STATES.perView,
      BATCH_STATES.commit,
      BATCH_STATES.reconcile,
      BATCH_STATES.cleanup,
      BATCH_STATES.whole,
    ]);
    const perView = definition.States[BATCH_STATES.perView];
    expect(perView?.Type).toBe('Map');
    expect(perView?.ItemProcessor?.StartAt).toBe(BATCH_STATES.query);
    expect(perView?.ItemProcessor?.States[BATCH_STATES.query]?.Next).toBe(BATCH_STATES.load);
  });

  it('waits for each Athena query to finish (.sync) before loading its results', () => {
    const query = definition.States[BATCH_STATES.perView]?.ItemProcessor?.States[BATCH_STATES.query];
    expect(query?.Resource).toMatch(/:states:::athena:startQueryExecution\.sync$/);
  });

  it('routes its tasks to the five batch functions (nodejs24.x, arm64), one per step', () => {
    const functions = template.findResources('AWS::Lambda::Function', {
      Metadata: { [FUNCTION_METADATA_KEY]: Match.stringLikeRegexp('^batch-') },
      Properties: {
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'driftless-batch' } },
      },
    });
    expect(Object.keys(functions)).toHaveLength(5);
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
    const definitionText = JSON.stringify(machine?.Properties.DefinitionString);
    for (const logicalId of Object.keys(functions)) expect(definitionText).toContain(`"${logicalId}"`);
  });

  it('lets only the plan read CloudWatch metrics, and names the delivery stream whose freshness bounds W', () => {
    // Prepare
    const [streamId] = Object.keys(template.findResources('AWS::KinesisFirehose::DeliveryStream'));
    const functions = template.findResources('AWS::Lambda::Function', {
      Metadata: { [FUNCTION_METADATA_KEY]: Match.stringLikeRegexp('^batch-') },
    });
    const roleOf = (name: string) =>
      Object.values(functions).find((fn) => fn.Metadata[FUNCTION_METADATA_KEY] === name)?.Properties.Role[
        'Fn::GetAtt'
      ][0] as string;
    const readers = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) =>
        JSON.stringify(policy.Properties.PolicyDocument).includes('cloudwatch:GetMetricData'),
      )
      .flatMap((policy) => policy.Properties.Roles.map((role: { Ref: string }) => role.Ref));
    // Assess
    for (const fn of Object.values(functions))
      expect(fn.Properties.Environment.Variables.DELIVERY_STREAM_NAME).toEqual({ Ref: streamId });
    expect(readers).toEqual([roleOf('batch-plan')]);
  });

  it('invokes, in each Lambda task, the function defined for that step', () => {
    const inner = definition.States[BATCH_STATES.perView]?.ItemProcessor?.States ?? {};
    const invoked = (state: State | undefined) => functionNameOfArn(state?.Resource ?? '');
    expect(invoked(definition.States[BATCH_STATES.plan])).toBe('batch-plan');
    expect(invoked(inner[BATCH_STATES.load])).toBe('batch-load');
    expect(invoked(definition.States[BATCH_STATES.commit])).toBe('batch-commit');
    expect(invoked(definition.States[BATCH_STATES.reconcile])).toBe('batch-reconcile');
    expect(invoked(definition.States[BATCH_STATES.cleanup])).toBe('batch-cleanup');
  });

  it('turns a failed query or load into a record of that view, so the other views still commit', () => {
    // Prepare
    const inner = definition.States[BATCH_STATES.perView]?.ItemProcessor?.States ?? {};
    // Act
    const caught = [BATCH_STATES.query, BATCH_STATES.load].map((name) => {
      const [catcher, ...others] = inner[name]?.Catch ?? [];
      return { catcher, others, handler: inner[catcher?.Next ?? ''] };
    });
    // Assess
    for (const { catcher, others, handler } of caught) {
      expect(others).toEqual([]);
      expect(catcher?.ErrorEquals).toEqual(['States.ALL']);
      expect(handler).toMatchObject({ Type: 'Pass', End: true });
    }
    expect(definition.States[BATCH_STATES.perView]?.Catch).toBeUndefined();
  });

  it('ends a run with a failed view FAILED after commit, reconcile and clean-up, so the failed-run alarm fires', () => {
    // Prepare
    const whole = definition.States[BATCH_STATES.whole];
    // Act
    const [choice, ...others] = whole?.Choices ?? [];
    // Assess
    expect(whole?.Type).toBe('Choice');
    expect(others).toEqual([]);
    expect(choice).toMatchObject({ Variable: '$.incomplete', IsNull: true });
    expect(definition.States[choice?.Next ?? '']?.Type).toBe('Succeed');
    expect(definition.States[whole?.Default ?? '']).toMatchObject({
      Type: 'Fail',
      Error: RUN_INCOMPLETE_ERROR,
      CausePath: '$.incomplete',
    });
    // Reconcile and clean up pass Commit's output on to the choice.
    expect(definition.States[BATCH_STATES.reconcile]?.ResultPath).toBeNull();
    expect(definition.States[BATCH_STATES.cleanup]?.ResultPath).toBeNull();
  });

  describe.each([
    [BATCH_STATES.countSkippedLines, '$.skippedLines'],
    [BATCH_STATES.findDistantCopies, '$.distantCopies'],
  ])('the run-wide Athena state %s', (name, path) => {
    const state = () => definition.States[name];

    it("runs the query Plan built and keeps only the query's id", () => {
      expect(state()).toMatchObject({
        Type: 'Task',
        Resource: expect.stringMatching(/:states:::athena:startQueryExecution\.sync$/),
        Parameters: expect.objectContaining({ 'QueryString.$': `${path}.sql` }),
        ResultPath: `${path}.query`,
      });
    });

    it('goes on to the next state when its query fails for good, the error recorded for Commit', () => {
      // Prepare
      const [catcher, ...others] = state()?.Catch ?? [];
      // Act
      const next = state()?.Next;
      // Assess
      expect(others).toEqual([]);
      expect(catcher).toEqual({ ErrorEquals: ['States.ALL'], Next: next, ResultPath: `${path}.failure` });
    });
  });

  const athenaStates = [BATCH_STATES.countSkippedLines, BATCH_STATES.findDistantCopies, BATCH_STATES.query];
  describe.each(athenaStates)('the Athena state %s', (name) => {
    const state = () =>
      definition.States[name] ?? definition.States[BATCH_STATES.perView]?.ItemProcessor?.States[name];

    it('retries throttling and internal errors with growing, jittered delays', () => {
      // Prepare
      const retry = state()?.Retry ?? [];
      // Act
      const throttled = retry.find((retrier) =>
        retrier.ErrorEquals.includes('Athena.TooManyRequestsException'),
      );
      // Assess
      expect(throttled?.ErrorEquals).toEqual(ATHENA_TRANSIENT_ERRORS);
      expect(throttled?.BackoffRate).toBeGreaterThan(1);
      expect(throttled?.MaxAttempts).toBeGreaterThanOrEqual(5);
      expect(throttled?.JitterStrategy).toBe('FULL');
      expect(retry.indexOf(throttled as Retrier)).toBe(0);
    });

    it('retries a failed query at most twice, so that a real SQL error fails soon', () => {
      // Prepare
      const retry = state()?.Retry ?? [];
      // Act
      const failed = retry.find((retrier) => retrier.ErrorEquals.includes('States.TaskFailed'));
      // Assess
      expect(failed?.BackoffRate).toBeGreaterThan(1);
      expect(failed?.MaxAttempts).toBeLessThanOrEqual(2);
      expect(retry.some((retrier) => retrier.ErrorEquals.includes('States.ALL'))).toBe(false);
    });
  });

  it('retries every Lambda task on Lambda throttling and service errors, with growing, jittered delays', () => {
    // Prepare
    const inner = definition.States[BATCH_STATES.perView]?.ItemProcessor?.States ?? {};
    const tasks = Object.entries({ ...definition.States, ...inner }).filter(
      ([, state]) => state.Type === 'Task' && functionNameOfArn(state.Resource ?? '') !== null,
    );
    // Act
    const retriers = tasks.map(([name, state]) => [
      name,
      state.Retry?.find((retrier) => retrier.ErrorEquals.includes('Lambda.TooManyRequestsException')),
    ]);
    // Assess
    expect(tasks).toHaveLength(5);
    for (const [name, retrier] of retriers) {
      expect(retrier, name as string).toMatchObject({
        ErrorEquals: LAMBDA_TRANSIENT_ERRORS,
        JitterStrategy: 'FULL',
      });
      expect((retrier as Retrier).BackoffRate, name as string).toBeGreaterThan(1);
      expect((retrier as Retrier).MaxAttempts, name as string).toBeGreaterThanOrEqual(5);
    }
  });

  it('loops each view over its days: after each Load, back to Query with the next load Load planned, until none', () => {
    // Prepare
    const inner = definition.States[BATCH_STATES.perView]?.ItemProcessor?.States ?? {};
    // Act
    const moreDays = inner[inner[BATCH_STATES.load]?.Next ?? ''];
    const [done, ...others] = moreDays?.Choices ?? [];
    const next = inner[moreDays?.Default ?? ''];
    // Assess
    expect(inner[BATCH_STATES.load]?.ResultPath).toBe('$.loaded');
    expect(moreDays?.Type).toBe('Choice');
    expect(others).toEqual([]);
    expect(done).toMatchObject({ Variable: '$.loaded.next', IsNull: true });
    expect(inner[done?.Next ?? '']).toMatchObject({ Type: 'Pass', OutputPath: '$.loaded', End: true });
    expect(next).toMatchObject({
      Type: 'Pass',
      Parameters: { 'runId.$': '$.runId', 'view.$': '$.loaded.next' },
      Next: BATCH_STATES.query,
    });
  });

  it('is started hourly by an EventBridge Scheduler schedule', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 hour)',
      Target: Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('StateMachine') } }),
    });
  });
});

describe('archive markers', () => {
  const markerId = Object.keys(
    template.findResources('AWS::Lambda::Function', {
      Metadata: { [FUNCTION_METADATA_KEY]: archiveMarkerFunction.name },
    }),
  )[0] as string;
  const [queueId] = Object.keys(template.findResources('AWS::SQS::Queue', {})).filter((id) =>
    id.startsWith('BatchLostArchiveMarkers'),
  );

  it('has the archive bucket announce its objects to EventBridge by its own setting, with no custom resource', () => {
    // Prepare
    const archiveBucket = Object.keys(template.findResources('AWS::S3::Bucket')).find((id) =>
      id.startsWith('ArchiveBucket'),
    );
    // Act
    const notified = template.findResources('AWS::S3::Bucket', {
      Properties: { NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } } },
    });
    // Assess: the archive bucket's setting (the exports bucket's is the export hasher's)
    expect(Object.keys(notified)).toContain(archiveBucket);
    template.resourceCountIs('Custom::S3BucketNotifications', 0);
  });

  it("routes the archive bucket's Object Created events under events/ to the marker, retried, then to a queue", () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ Ref: Match.stringLikeRegexp('^ArchiveBucket') }] },
          object: { key: [{ prefix: 'events/' }] },
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [markerId, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
          RetryPolicy: Match.objectLike({ MaximumEventAgeInSeconds: 86_400 }),
        }),
      ],
    });
  });

  it("sends the marker's failed invocations, after Lambda's retries, to the same queue", () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: markerId },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
    });
  });

  it('alarms as soon as the queue holds an event the marker gave up on', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('is matched locally as EventBridge matches it: objects under events/ of the archive bucket only', () => {
    // Prepare
    const names = new LocalNames(templateJson);
    // The archive's rule: the exports bucket has its own (the export hasher's).
    const [rule, ...others] = eventRulesOf(templateJson, names).filter(({ targets }) =>
      targets.includes(archiveMarkerFunction.name),
    );
    const archive = archiveLocationOf(templateJson, names).bucket;
    const event = (bucket: string, key: string) =>
      objectCreatedEvent(bucket, { key, body: 'x' }, new Date(), 0);
    // Act
    const matched = [
      event(archive, 'events/order/dt=2024-05-01/delivery.gz'),
      event(archive, 'errors/processing-failed/2024-05-01/delivery.gz'),
      event('another-bucket', 'events/order/dt=2024-05-01/delivery.gz'),
    ].map((candidate) => matchesPattern(rule?.pattern ?? {}, candidate));
    // Assess
    expect(others).toEqual([]);
    expect(rule?.targets).toEqual([archiveMarkerFunction.name]);
    expect(matched).toEqual([true, false, false]);
  });
});
