import { Duration, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import {
  DefinitionBody,
  IntegrationPattern,
  JsonPath,
  LogLevel,
  Map as MapState,
  QueryLanguage,
  StateMachine,
  StateMachineType,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { AthenaStartQueryExecution, LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { ViewDefinition } from '../functions/core';
import { DriftlessFunction } from './function';

/** What the batch layer reads: the raw archive, its Glue table and the Athena workgroup. */
export interface ArchiveReferences {
  readonly archiveBucket: IBucket;
  readonly resultsBucket: IBucket;
  /** Glue database holding the `raw_events` table. */
  readonly database: string;
  readonly workGroupName: string;
}

export interface BatchLayerProps {
  readonly table: ITableV2;
  readonly archive: ArchiveReferences;
  readonly views: readonly ViewDefinition[];
  /** @default ScheduleExpression.rate(Duration.hours(1)) */
  readonly schedule?: ScheduleExpression;
  /**
   * Delivery delay plus allowed lateness: the watermark trails the run's start by at least this.
   * Firehose buffers up to its interval; late events past it are corrected by the next run.
   * @default Duration.minutes(15)
   */
  readonly settle?: Duration;
  /**
   * How long a replaced or uncommitted batch version is kept; longer than a run may take (2 h), so
   * clean-up never deletes what a run still in progress is about to commit.
   * @default Duration.hours(3)
   */
  readonly grace?: Duration;
  /** Alarm when speed and batch differ by more than this ratio on the buckets a run made exact. @default 0.01 */
  readonly driftAlarmThreshold?: number;
}

/** State names: the local runner routes tasks to the step code by these. */
export const BATCH_STATES = {
  plan: 'Plan',
  perView: 'QueryAndLoadEachView',
  query: 'Query',
  load: 'Load',
  commit: 'Commit',
  reconcile: 'Reconcile',
  cleanup: 'CleanUp',
} as const;

/**
 * The batch layer: an EventBridge Scheduler schedule starts a Step Functions Standard workflow that
 * plans the run, runs each view's compiled SQL on Athena, loads the results as new versions, flips
 * the manifests, reconciles with the speed layer and cleans up.
 */
export class BatchLayer extends Construct {
  public readonly stateMachine: StateMachine;
  public readonly schedule: Schedule;
  public readonly functions: Readonly<
    Record<'plan' | 'load' | 'commit' | 'reconcile' | 'cleanup', DriftlessFunction>
  >;

  constructor(scope: Construct, id: string, props: BatchLayerProps) {
    super(scope, id);
    const { table, archive } = props;
    const environment = {
      TABLE_NAME: table.tableName,
      ARCHIVE_BUCKET: archive.archiveBucket.bucketName,
      ATHENA_WORKGROUP: archive.workGroupName,
      GLUE_DATABASE: archive.database,
      SETTLE_MINUTES: String((props.settle ?? Duration.minutes(15)).toMinutes()),
      GRACE_MINUTES: String((props.grace ?? Duration.hours(3)).toMinutes()),
    };
    const step = (name: keyof BatchLayer['functions'], timeout = Duration.minutes(1)) =>
      new DriftlessFunction(this, `${name[0]?.toUpperCase()}${name.slice(1)}Function`, {
        handlerFile: `functions/batch/${name}.ts`,
        service: 'driftless-batch',
        environment,
        timeout,
        memorySize: name === 'load' ? 1024 : 512,
      });
    this.functions = {
      plan: step('plan'),
      load: step('load', Duration.minutes(15)),
      commit: step('commit'),
      reconcile: step('reconcile', Duration.minutes(5)),
      cleanup: step('cleanup', Duration.minutes(15)),
    };
    const { plan, load, commit, reconcile, cleanup } = this.functions;

    // Least privilege per step.
    archive.archiveBucket.grantRead(plan, 'events/*');
    table.grant(plan, 'dynamodb:GetItem');
    table.grant(load, 'dynamodb:PutItem', 'dynamodb:BatchWriteItem');
    load.addToRolePolicy(
      new PolicyStatement({
        actions: ['athena:GetQueryResults'],
        resources: [
          Stack.of(this).formatArn({
            service: 'athena',
            resource: 'workgroup',
            resourceName: archive.workGroupName,
          }),
        ],
      }),
    );
    archive.resultsBucket.grantRead(load);
    table.grant(commit, 'dynamodb:GetItem', 'dynamodb:PutItem');
    table.grant(reconcile, 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem');
    table.grant(cleanup, 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem');

    const invoke = (stateName: string, fn: DriftlessFunction, payload?: TaskInput) =>
      new LambdaInvoke(this, stateName, {
        lambdaFunction: fn,
        payloadResponseOnly: true,
        ...(payload ? { payload } : {}),
        retryOnServiceExceptions: true,
      });

    const query = new AthenaStartQueryExecution(this, BATCH_STATES.query, {
      queryString: JsonPath.stringAt('$.view.sql'),
      workGroup: archive.workGroupName,
      queryExecutionContext: { databaseName: archive.database },
      // The default is REQUEST_RESPONSE, which would load results before the query finished.
      integrationPattern: IntegrationPattern.RUN_JOB,
      resultPath: '$.query',
    });
    const loadView = invoke(
      BATCH_STATES.load,
      load,
      TaskInput.fromObject({
        runId: JsonPath.stringAt('$.runId'),
        view: JsonPath.objectAt('$.view'),
        queryExecutionId: JsonPath.stringAt('$.query.QueryExecution.QueryExecutionId'),
      }),
    );
    const perView = new MapState(this, BATCH_STATES.perView, {
      itemsPath: '$.views',
      itemSelector: { 'runId.$': '$.runId', 'view.$': '$$.Map.Item.Value' },
      maxConcurrency: 4,
      resultPath: '$.loaded',
    });
    perView.itemProcessor(query.next(loadView));

    const definition = invoke(BATCH_STATES.plan, plan)
      .next(perView)
      .next(invoke(BATCH_STATES.commit, commit))
      .next(invoke(BATCH_STATES.reconcile, reconcile))
      .next(invoke(BATCH_STATES.cleanup, cleanup, TaskInput.fromObject({})));

    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      // aws-local-stepfunctions runs JSONPath only.
      queryLanguage: QueryLanguage.JSON_PATH,
      definitionBody: DefinitionBody.fromChainable(definition),
      timeout: Duration.hours(2),
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(this, 'StateMachineLogs', { retention: RetentionDays.ONE_MONTH }),
        level: LogLevel.ERROR,
        includeExecutionData: false,
      },
    });
    // Athena reads the archive and writes results with the state machine's credentials.
    archive.archiveBucket.grantRead(this.stateMachine);
    archive.resultsBucket.grantReadWrite(this.stateMachine);

    this.schedule = new Schedule(this, 'Schedule', {
      schedule: props.schedule ?? ScheduleExpression.rate(Duration.hours(1)),
      target: new StepFunctionsStartExecution(this.stateMachine, {
        input: ScheduleTargetInput.fromObject({}),
      }),
      description: 'driftless batch run',
    });

    for (const view of props.views) {
      new Alarm(this, `Drift-${view.name}`, {
        metric: new Metric({
          namespace: 'Driftless',
          metricName: 'driftRatio',
          dimensionsMap: { service: 'driftless-batch', view: view.name },
          statistic: 'Maximum',
          period: Duration.hours(1),
        }),
        threshold: props.driftAlarmThreshold ?? 0.01,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: `speed and batch of view ${view.name} differ past the threshold`,
      });
    }
    new Alarm(this, 'RunFailed', {
      metric: this.stateMachine.metricFailed({ period: Duration.hours(1) }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: 'a batch run failed',
    });
  }
}
