import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Match, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnBucket, type IBucket } from 'aws-cdk-lib/aws-s3';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import {
  Choice,
  Condition,
  CustomState,
  DefinitionBody,
  Fail,
  JitterType,
  JsonPath,
  LogLevel,
  Map as MapState,
  Pass,
  QueryLanguage,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct, type IConstruct } from 'constructs';
import { batchFunctions } from '../functions/batch/context';
import { ARCHIVE_EVENTS_PREFIX, archiveMarkerFunction } from '../functions/batch/marker';
import { RAW_EVENTS, type ViewDefinition } from '../functions/core';
import { DriftlessFunction } from './function';
import { acknowledgeWildcardResources } from './nag';
import { deadLetterQueue } from './queue';
import { QUERY_RESULTS_PREFIX } from './raw-archive';

/** What the batch layer reads: the raw archive, its Glue table and the Athena workgroup. */
export interface ArchiveReferences {
  readonly archiveBucket: IBucket;
  readonly resultsBucket: IBucket;
  /** Glue database holding the `raw_events` table. */
  readonly database: string;
  readonly workGroupName: string;
  /** @default 'results/' */
  readonly queryResultsPrefix?: string;
}

export interface BatchLayerProps {
  readonly table: ITableV2;
  readonly archive: ArchiveReferences;
  /** The views a run computes; reconcile publishes a drift metric per view. */
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
  /** Log retention of the step functions and the state machine. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/** State names: the local runner routes tasks to the step code by these. */
export const BATCH_STATES = {
  plan: 'Plan',
  countSkippedLines: 'CountSkippedLines',
  findDistantCopies: 'FindDistantCopies',
  perView: 'QueryAndLoadEachView',
  query: 'Query',
  load: 'Load',
  moreDays: 'MoreDays',
  nextDays: 'NextDays',
  viewLoaded: 'ViewLoaded',
  queryFailed: 'QueryFailed',
  loadFailed: 'LoadFailed',
  commit: 'Commit',
  reconcile: 'Reconcile',
  cleanup: 'CleanUp',
  whole: 'WholeRun',
  incomplete: 'RunIncomplete',
  done: 'Done',
} as const;

/** The error a run with a failed view ends with (its cause names the views): the failed-run alarm fires. */
export const RUN_INCOMPLETE_ERROR = 'BatchRunIncomplete';

/**
 * Lambda's transient errors, throttling included: CDK's default retry leaves out
 * Lambda.TooManyRequestsException, which a burst of runs (or other functions of the account) causes.
 */
export const LAMBDA_TRANSIENT_ERRORS = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

/** Athena refusing to start a query for now: too many queued or running, or an internal error. */
export const ATHENA_TRANSIENT_ERRORS = ['Athena.TooManyRequestsException', 'Athena.InternalServerException'];

/**
 * The batch layer: an EventBridge Scheduler schedule starts a Step Functions Standard workflow that
 * plans the run, counts the archive lines it cannot read and finds the ids counted more than once (its
 * data-quality report), runs each view's compiled SQL on Athena and loads the results as new versions (a
 * bounded number of days at a time, looping until the view's days are loaded), flips the manifests,
 * reconciles with the speed layer and cleans up. The days to read come from archive markers: S3 sends
 * each new archive object's "Object Created" event to EventBridge, and a rule invokes the marker
 * function, which records the object's day in the table.
 */
export class BatchLayer extends Construct {
  public readonly stateMachine: StateMachine;
  public readonly views: readonly ViewDefinition[];
  public readonly schedule: Schedule;
  public readonly functions: Readonly<
    Record<'plan' | 'load' | 'commit' | 'reconcile' | 'cleanup', DriftlessFunction>
  >;
  /** Records the days the archive received objects for; the target of `archiveObjectCreated`. */
  public readonly marker: DriftlessFunction;
  /** The archive bucket's "Object Created" events under `events/`, to the marker. */
  public readonly archiveObjectCreated: Rule;
  /**
   * Archive events the marker could not record, after EventBridge's and Lambda's retries: each is a day
   * a run may not recompute until it is backfilled (alarmed on depth).
   */
  public readonly lostMarkers: Queue;

  constructor(scope: Construct, id: string, props: BatchLayerProps) {
    super(scope, id);
    const { table, archive } = props;
    this.views = props.views;
    const environment = {
      TABLE_NAME: table.tableName,
      ATHENA_WORKGROUP: archive.workGroupName,
      GLUE_DATABASE: archive.database,
      SETTLE_MINUTES: String((props.settle ?? Duration.minutes(15)).toMinutes()),
      GRACE_MINUTES: String((props.grace ?? Duration.hours(3)).toMinutes()),
    };
    const step = (name: keyof BatchLayer['functions'], timeout = Duration.minutes(1)) =>
      new DriftlessFunction(this, `${name[0]?.toUpperCase()}${name.slice(1)}Function`, {
        definition: batchFunctions[name],
        environment,
        timeout,
        memorySize: name === 'load' ? 1024 : 512,
        logRetention: props.logRetention,
      }).invokedSynchronouslyBy(
        'the batch state machine, which retries service errors and fails the run (alarmed)',
      );
    this.functions = {
      plan: step('plan'),
      load: step('load', Duration.minutes(15)),
      commit: step('commit'),
      reconcile: step('reconcile', Duration.minutes(5)),
      cleanup: step('cleanup', Duration.minutes(15)),
    };
    const { plan, load, commit, reconcile, cleanup } = this.functions;

    // Which days the archive received objects for, recorded as S3 announces each object: a plan reads
    // these markers instead of listing the archive, so its work follows what changed, not history.
    this.lostMarkers = deadLetterQueue(
      this,
      'LostArchiveMarkers',
      "It is the archive marker's dead-letter queue (its rule target's and its asynchronous invocations'): each message names an archive object whose day to backfill",
    );
    this.marker = new DriftlessFunction(this, 'ArchiveMarkerFunction', {
      definition: archiveMarkerFunction,
      environment: { TABLE_NAME: table.tableName },
      timeout: Duration.seconds(30),
      memorySize: 256,
      logRetention: props.logRetention,
      // EventBridge invokes it asynchronously: Lambda retries twice, then sends the event (and the
      // error) to the queue.
      retryAttempts: 2,
      onFailure: new SqsDestination(this.lostMarkers),
    });
    Validations.of(this.marker).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'Its failed asynchronous invocations go to its on-failure destination, the lost-markers queue, with the error; a dead-letter queue as well would receive each one twice.',
    });
    // Least privilege: one conditional update per marker item.
    table.grant(this.marker, 'dynamodb:UpdateItem');
    const archiveBucket = archive.archiveBucket.node.defaultChild;
    if (!(archiveBucket instanceof CfnBucket))
      throw new Error(
        'the archive bucket must be defined in this stack: its EventBridge notifications are set on it',
      );
    // The bucket's own setting, not `enableEventBridgeNotification()`: that adds CDK's Python custom
    // resource (with a managed-policy role) to set the same thing; CloudFormation sets it natively.
    archiveBucket.addPropertyOverride(
      'NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled',
      true,
    );
    this.archiveObjectCreated = new Rule(this, 'ArchiveObjectCreated', {
      description: 'archive objects under events/ to the marker, which records their day for the batch runs',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [archive.archiveBucket.bucketName] },
          object: { key: Match.prefix(ARCHIVE_EVENTS_PREFIX) },
        },
      },
      targets: [
        new LambdaFunction(this.marker, {
          deadLetterQueue: this.lostMarkers,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    const resultsPrefix = archive.queryResultsPrefix ?? QUERY_RESULTS_PREFIX;
    const stack = Stack.of(this);
    const workGroupArn = stack.formatArn({
      service: 'athena',
      resource: 'workgroup',
      resourceName: archive.workGroupName,
    });

    // Least privilege per step. No step reads the archive: Plan and Load read the archive markers (Query)
    // and record each view's progress (PutItem, UpdateItem).
    table.grant(plan, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem');
    table.grant(load, 'dynamodb:PutItem', 'dynamodb:BatchWriteItem', 'dynamodb:Query', 'dynamodb:UpdateItem');
    this.grantQueryResults(load, archive, workGroupArn, resultsPrefix);
    table.grant(commit, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem');
    // Commit reads the skipped-lines count and the distant copies, as Load reads a view's rows.
    this.grantQueryResults(commit, archive, workGroupArn, resultsPrefix);
    table.grant(reconcile, 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem');
    table.grant(
      cleanup,
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'dynamodb:BatchWriteItem',
    );

    const invoke = (stateName: string, fn: DriftlessFunction, payload?: TaskInput, resultPath?: string) =>
      new LambdaInvoke(this, stateName, {
        lambdaFunction: fn,
        payloadResponseOnly: true,
        ...(payload ? { payload } : {}),
        ...(resultPath ? { resultPath } : {}),
        retryOnServiceExceptions: false,
      }).addRetry({
        errors: LAMBDA_TRANSIENT_ERRORS,
        interval: Duration.seconds(2),
        backoffRate: 2,
        maxAttempts: 6,
        maxDelay: Duration.minutes(1),
        jitterStrategy: JitterType.FULL,
      });

    // A custom state, not AthenaStartQueryExecution: that L2 grants s3:GetObject and s3:ListBucket on
    // every bucket ('*'); the statements below name the archive and the results prefix instead.
    // `.sync` waits for the query to finish; only its id is kept (the execution's description repeats
    // the whole query text, which would only swell the payload).
    const athenaQuery = (stateName: string, sqlPath: string, resultPath: string) =>
      new CustomState(this, stateName, {
        stateJson: {
          Type: 'Task',
          Resource: `arn:${stack.partition}:states:::athena:startQueryExecution.sync`,
          Parameters: {
            'QueryString.$': sqlPath,
            WorkGroup: archive.workGroupName,
            QueryExecutionContext: { Database: archive.database },
          },
          ResultSelector: { 'QueryExecutionId.$': '$.QueryExecution.QueryExecutionId' },
          ResultPath: resultPath,
        },
      })
        // Athena throttles StartQueryExecution past the account's concurrent query quota: wait and retry.
        .addRetry({
          errors: ATHENA_TRANSIENT_ERRORS,
          interval: Duration.seconds(5),
          backoffRate: 2,
          maxAttempts: 8,
          maxDelay: Duration.minutes(2),
          jitterStrategy: JitterType.FULL,
        })
        // A failed query (States.TaskFailed matches every other task error) may be transient (S3 slow
        // down, exhausted resources) or a real SQL error, which fails again at once: retried twice only.
        .addRetry({
          errors: ['States.TaskFailed'],
          interval: Duration.seconds(30),
          backoffRate: 2,
          maxAttempts: 2,
          jitterStrategy: JitterType.FULL,
        });

    // Per view: query, then load. A view whose query or load fails (after retries) ends as a failure
    // record naming it, instead of failing the Map: the other views still load and commit.
    const viewFailed = (stateName: string, step: 'Query' | 'Load') =>
      new Pass(this, stateName, {
        parameters: { 'view.$': '$.view.view', step, 'failure.$': '$.failure' },
      });
    const query = athenaQuery(BATCH_STATES.query, '$.view.sql', '$.query').addCatch(
      viewFailed(BATCH_STATES.queryFailed, 'Query'),
      { resultPath: '$.failure' },
    );
    const loadView = invoke(
      BATCH_STATES.load,
      load,
      TaskInput.fromObject({
        runId: JsonPath.stringAt('$.runId'),
        view: JsonPath.objectAt('$.view'),
        queryExecutionId: JsonPath.stringAt('$.query.QueryExecutionId'),
      }),
      '$.loaded',
    ).addCatch(viewFailed(BATCH_STATES.loadFailed, 'Load'), { resultPath: '$.failure' });
    // A view's days are loaded a bounded number at a time: each Load plans the next (null when the view's
    // days are loaded, or a backfill has had its loads for this run), and the view loops back to Query.
    // Only Load's output leaves the view's branch: Commit reads what each view loaded, or its failure.
    const moreDays = new Choice(this, BATCH_STATES.moreDays)
      .when(
        Condition.isNull('$.loaded.next'),
        new Pass(this, BATCH_STATES.viewLoaded, { outputPath: '$.loaded' }),
      )
      .otherwise(
        new Pass(this, BATCH_STATES.nextDays, {
          parameters: { 'runId.$': '$.runId', 'view.$': '$.loaded.next' },
        }).next(query),
      );
    const perView = new MapState(this, BATCH_STATES.perView, {
      itemsPath: '$.views',
      itemSelector: { 'runId.$': '$.runId', 'view.$': '$$.Map.Item.Value' },
      maxConcurrency: 4,
      resultPath: '$.loaded',
    });
    perView.itemProcessor(query.next(loadView).next(moreDays));

    // The ids counted more than once (copies further apart than the dedupe horizon) on the days the
    // run recomputes, for its data-quality report. A failed report fails no view: Commit records why,
    // and the run ends incomplete.
    const findDistantCopies = athenaQuery(
      BATCH_STATES.findDistantCopies,
      '$.distantCopies.sql',
      '$.distantCopies.query',
    ).addCatch(perView, { resultPath: '$.distantCopies.failure' });

    // The archive lines the engine skips as unreadable, counted once over the days the run reads. A
    // failed count fails no view: Commit records why, and the run ends incomplete.
    const countSkippedLines = athenaQuery(
      BATCH_STATES.countSkippedLines,
      '$.skippedLines.sql',
      '$.skippedLines.query',
    ).addCatch(findDistantCopies, { resultPath: '$.skippedLines.failure' });

    // Commit's output (what committed, what failed) is what the run ends with; Reconcile and CleanUp
    // leave it as it is. A run with a failed view ends FAILED, so the failed-run alarm fires, after
    // the other views committed, reconciled and cleaned up.
    // IsNull true, not IsNull false: aws-local-stepfunctions 3 never matches `"IsNull": false`.
    const whole = new Choice(this, BATCH_STATES.whole)
      .when(Condition.isNull('$.incomplete'), new Succeed(this, BATCH_STATES.done))
      .otherwise(
        new Fail(this, BATCH_STATES.incomplete, { error: RUN_INCOMPLETE_ERROR, causePath: '$.incomplete' }),
      );

    // Plan records the execution under its run id: scheduled executions are not named by it.
    const definition = invoke(
      BATCH_STATES.plan,
      plan,
      TaskInput.fromObject({ input: JsonPath.entirePayload, executionArn: JsonPath.executionId }),
    )
      .next(countSkippedLines)
      .next(findDistantCopies)
      .next(perView)
      .next(invoke(BATCH_STATES.commit, commit))
      .next(invoke(BATCH_STATES.reconcile, reconcile, undefined, JsonPath.DISCARD))
      .next(invoke(BATCH_STATES.cleanup, cleanup, TaskInput.fromObject({}), JsonPath.DISCARD))
      .next(whole);

    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      // aws-local-stepfunctions runs JSONPath only.
      queryLanguage: QueryLanguage.JSON_PATH,
      definitionBody: DefinitionBody.fromChainable(definition),
      timeout: Duration.hours(2),
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(this, 'StateMachineLogs', {
          retention: logRetention,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        // Every state transition, without payloads: the views' rows stay out of the logs.
        level: LogLevel.ALL,
        includeExecutionData: false,
      },
    });
    this.grantQuery(archive, workGroupArn, resultsPrefix);

    this.schedule = new Schedule(this, 'Schedule', {
      schedule: props.schedule ?? ScheduleExpression.rate(Duration.hours(1)),
      target: new StepFunctionsStartExecution(this.stateMachine, {
        input: ScheduleTargetInput.fromObject({}),
      }),
      description: 'driftless batch run',
    });
  }

  /** Reading a finished query's results: GetQueryResults reads the result object with the caller's credentials. */
  private grantQueryResults(
    fn: DriftlessFunction,
    archive: ArchiveReferences,
    workGroupArn: string,
    resultsPrefix: string,
  ): void {
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['athena:GetQueryResults'], resources: [workGroupArn] }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [archive.resultsBucket.arnForObjects(`${resultsPrefix}*`)],
      }),
    );
    if (fn.role) {
      acknowledgeWildcardResources(
        fn.role,
        archive.resultsBucket,
        [`/${resultsPrefix}*`],
        "Reads a query's result object, whose key Athena derives from the query id; read-only, under results/.",
      );
    }
  }

  /** The state machine runs the views' queries on Athena with its own role. */
  private grantQuery(archive: ArchiveReferences, workGroupArn: string, resultsPrefix: string): void {
    const role = this.stateMachine.role;
    grantAthenaQuery(this.stateMachine, role, archive, workGroupArn, resultsPrefix);
    for (const fn of Object.values(this.functions)) {
      acknowledgeWildcardResources(
        role,
        fn,
        [':*'],
        "LambdaInvoke's grant covers the function's qualified ARNs (versions); it is this one function.",
      );
    }
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing (PutTraceSegments, GetSamplingRules...) and vended log delivery (logs:CreateLogDelivery...) support no resource-level permissions; data actions on * are refused by the IAM policy test.',
    });
  }
}

/**
 * Athena runs a query with its caller's credentials: the caller starts and watches the query in the
 * workgroup, reads the table's metadata from Glue, reads the archive's events/ and writes results. The
 * batch state machine and the API (for exports) both query, with these grants.
 */
export function grantAthenaQuery(
  grantee: IGrantable & IConstruct,
  role: IConstruct,
  archive: ArchiveReferences,
  workGroupArn: string,
  resultsPrefix: string,
): void {
  const stack = Stack.of(grantee);
  const { archiveBucket, resultsBucket } = archive;
  const statements = [
    new PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:StopQueryExecution'],
      resources: [workGroupArn],
    }),
    new PolicyStatement({
      actions: ['athena:GetDataCatalog'],
      resources: [
        stack.formatArn({ service: 'athena', resource: 'datacatalog', resourceName: 'AwsDataCatalog' }),
      ],
    }),
    new PolicyStatement({
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartition', 'glue:GetPartitions'],
      resources: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: archive.database }),
        stack.formatArn({
          service: 'glue',
          resource: 'table',
          resourceName: `${archive.database}/${RAW_EVENTS}`,
        }),
      ],
    }),
    new PolicyStatement({
      actions: ['s3:GetBucketLocation'],
      resources: [archiveBucket.bucketArn, resultsBucket.bucketArn],
    }),
    new PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [archiveBucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [ARCHIVE_EVENTS_PREFIX, `${ARCHIVE_EVENTS_PREFIX}*`] } },
    }),
    new PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [archiveBucket.arnForObjects(`${ARCHIVE_EVENTS_PREFIX}*`)],
    }),
    new PolicyStatement({
      actions: ['s3:ListBucket', 's3:ListBucketMultipartUploads'],
      resources: [resultsBucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [resultsPrefix, `${resultsPrefix}*`] } },
    }),
    new PolicyStatement({
      actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      resources: [resultsBucket.arnForObjects(`${resultsPrefix}*`)],
    }),
  ];
  for (const statement of statements) grantee.grantPrincipal.addToPrincipalPolicy(statement);

  acknowledgeWildcardResources(
    role,
    archiveBucket,
    [`/${ARCHIVE_EVENTS_PREFIX}*`],
    'Athena reads every object of the raw archive under events/ (one per Firehose delivery, keys unknown in advance); read-only.',
  );
  acknowledgeWildcardResources(
    role,
    resultsBucket,
    [`/${resultsPrefix}*`],
    'Athena writes each query result as new objects under results/, keyed by query id; the bucket is scratch space.',
  );
}
