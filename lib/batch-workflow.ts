import { Duration, Stack } from 'aws-cdk-lib';
import {
  type Chain,
  Choice,
  Condition,
  CustomState,
  Fail,
  JitterType,
  JsonPath,
  Map as MapState,
  Pass,
  Succeed,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { ArchiveReferences } from './athena-grants';
import type { DriftlessFunction } from './function';

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

/** The Lambda step of each task state. */
export type BatchSteps = Readonly<
  Record<'plan' | 'load' | 'commit' | 'reconcile' | 'cleanup', DriftlessFunction>
>;

/**
 * The batch run's states, JSONPath (aws-local-stepfunctions runs it locally): plan, count the skipped
 * lines, find the distant copies, query and load each view (looping over its days), commit, reconcile,
 * clean up. Created in `scope`, so the states' ids are the construct's.
 */
export function batchWorkflow(scope: Construct, steps: BatchSteps, archive: ArchiveReferences): Chain {
  const { plan, load, commit, reconcile, cleanup } = steps;
  const stack = Stack.of(scope);
  const invoke = (stateName: string, fn: DriftlessFunction, payload?: TaskInput, resultPath?: string) =>
    new LambdaInvoke(scope, stateName, {
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
    new CustomState(scope, stateName, {
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
    new Pass(scope, stateName, {
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
  // days are loaded, or a backfill has had its loads for scope run), and the view loops back to Query.
  // Only Load's output leaves the view's branch: Commit reads what each view loaded, or its failure.
  const moreDays = new Choice(scope, BATCH_STATES.moreDays)
    .when(
      Condition.isNull('$.loaded.next'),
      new Pass(scope, BATCH_STATES.viewLoaded, { outputPath: '$.loaded' }),
    )
    .otherwise(
      new Pass(scope, BATCH_STATES.nextDays, {
        parameters: { 'runId.$': '$.runId', 'view.$': '$.loaded.next' },
      }).next(query),
    );
  const perView = new MapState(scope, BATCH_STATES.perView, {
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
  const whole = new Choice(scope, BATCH_STATES.whole)
    .when(Condition.isNull('$.incomplete'), new Succeed(scope, BATCH_STATES.done))
    .otherwise(
      new Fail(scope, BATCH_STATES.incomplete, { error: RUN_INCOMPLETE_ERROR, causePath: '$.incomplete' }),
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

  return definition;
}
