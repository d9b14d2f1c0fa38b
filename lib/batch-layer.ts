import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { Rule } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import {
  DefinitionBody,
  LogLevel,
  QueryLanguage,
  StateMachine,
  StateMachineType,
} from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { batchFunctions } from '../functions/batch/context';
import { BATCH_RUN_TIMEOUT_MINUTES, QUERY_RESULTS_PREFIX, STAGE_DEFAULTS } from '../functions/commons/layout';
import { type SettleSettings, settleVariables } from '../functions/commons/settle';
import type { ViewDefinition } from '../functions/core';
import { archiveMarker } from './archive-marker';
import { type ArchiveReferences, grantAthenaQuery, grantQueryResults } from './athena-grants';
import { type BatchSteps, batchWorkflow } from './batch-workflow';
import { DriftlessFunction } from './function';
import { acknowledgeWildcardResources } from './nag';

export type { ArchiveReferences } from './athena-grants';
export {
  ATHENA_TRANSIENT_ERRORS,
  BATCH_STATES,
  LAMBDA_TRANSIENT_ERRORS,
  RUN_INCOMPLETE_ERROR,
} from './batch-workflow';

export interface BatchLayerProps {
  readonly table: ITableV2;
  readonly archive: ArchiveReferences;
  /** The views a run computes; reconcile publishes a drift metric per view. */
  readonly views: readonly ViewDefinition[];
  /** @default ScheduleExpression.rate(Duration.hours(1)) */
  readonly schedule?: ScheduleExpression;
  /**
   * Allowed lateness: the watermark trails the run's start (and the archive's delivered position) by the
   * settle time, fixed or learned per view (`auto`); late events past it are corrected by the next run.
   * @default DEFAULT_SETTLE_SETTINGS
   */
  readonly settle?: SettleSettings;
  /**
   * How long a replaced or uncommitted batch version is kept; longer than a run may take
   * (BATCH_RUN_TIMEOUT_MINUTES), so clean-up never deletes what a run still in progress is about to commit.
   * @default Duration.minutes(STAGE_DEFAULTS.graceMinutes)
   */
  readonly grace?: Duration;
  /**
   * How long a replaced manifest can be rolled back to; clean-up keeps its day versions that long.
   * @default Duration.days(STAGE_DEFAULTS.rollbackRetentionDays)
   */
  readonly rollbackRetention?: Duration;
  /**
   * How long after the speed layer began counting a new view definition it may replace the served one.
   * @default Duration.seconds(STAGE_DEFAULTS.definitionSwitchMarginSeconds)
   */
  readonly definitionSwitchMargin?: Duration;
  /** Log retention of the step functions and the state machine. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

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
  public readonly functions: BatchSteps;
  /** Records the days the archive received objects for; the target of `archiveObjectCreated`. */
  public readonly marker: DriftlessFunction;
  /** The archive bucket's "Object Created" events under ARCHIVE_EVENTS_PREFIX, to the marker. */
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
      DELIVERY_STREAM_NAME: archive.deliveryStream.deliveryStreamName,
      ...settleVariables(props.settle),
      GRACE_MINUTES: String((props.grace ?? Duration.minutes(STAGE_DEFAULTS.graceMinutes)).toMinutes()),
      ROLLBACK_RETENTION_DAYS: String(
        (props.rollbackRetention ?? Duration.days(STAGE_DEFAULTS.rollbackRetentionDays)).toDays(),
      ),
      DEFINITION_SWITCH_MARGIN_SECONDS: String(
        (
          props.definitionSwitchMargin ?? Duration.seconds(STAGE_DEFAULTS.definitionSwitchMarginSeconds)
        ).toSeconds(),
      ),
    };
    const step = (name: keyof BatchSteps, timeout = Duration.minutes(1)) =>
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
      // Commit diffs each replaced day with its new version for the ledger: a backfill's every day.
      commit: step('commit', Duration.minutes(5)),
      reconcile: step('reconcile', Duration.minutes(5)),
      cleanup: step('cleanup', Duration.minutes(15)),
    };
    const { plan, load, commit, reconcile, cleanup } = this.functions;

    ({
      marker: this.marker,
      archiveObjectCreated: this.archiveObjectCreated,
      lostMarkers: this.lostMarkers,
    } = archiveMarker(this, table, archive.archiveBucket, props.logRetention));

    // Least privilege per step. No step reads the archive: Plan and Load read the archive markers (Query)
    // and record each view's progress (PutItem, UpdateItem).
    const resultsPrefix = archive.queryResultsPrefix ?? QUERY_RESULTS_PREFIX;
    table.grant(plan, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem');
    // The plan bounds the watermark by what Firehose has delivered, from its CloudWatch metrics.
    plan.addToRolePolicy(new PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }));
    Validations.of(plan).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudwatch:GetMetricData supports no resource-level permissions (its resource must be *); it reads metrics only, here Firehose delivery freshness.',
    });
    table.grant(load, 'dynamodb:PutItem', 'dynamodb:BatchWriteItem', 'dynamodb:Query', 'dynamodb:UpdateItem');
    grantQueryResults(load, archive, resultsPrefix);
    // Commit also reads the replaced and the new day versions (Query) to record what it restated.
    table.grant(commit, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query');
    // Commit reads the skipped-lines count and the distant copies, as Load reads a view's rows.
    grantQueryResults(commit, archive, resultsPrefix);
    table.grant(reconcile, 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem');
    // Clean-up also completes the ledger recordings commits and rollbacks left (PutItem).
    table.grant(
      cleanup,
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'dynamodb:BatchWriteItem',
    );

    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      // aws-local-stepfunctions runs JSONPath only.
      queryLanguage: QueryLanguage.JSON_PATH,
      definitionBody: DefinitionBody.fromChainable(batchWorkflow(this, this.functions, archive)),
      timeout: Duration.minutes(BATCH_RUN_TIMEOUT_MINUTES),
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(this, 'StateMachineLogs', {
          retention: props.logRetention ?? RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        // Every state transition, without payloads: the views' rows stay out of the logs.
        level: LogLevel.ALL,
        includeExecutionData: false,
      },
    });
    this.grantQuery(archive, resultsPrefix);

    this.schedule = new Schedule(this, 'Schedule', {
      schedule: props.schedule ?? ScheduleExpression.rate(Duration.hours(1)),
      target: new StepFunctionsStartExecution(this.stateMachine, {
        input: ScheduleTargetInput.fromObject({}),
      }),
      description: 'driftless batch run',
    });
  }

  /** The state machine runs the views' queries on Athena with its own role. */
  private grantQuery(archive: ArchiveReferences, resultsPrefix: string): void {
    const role = this.stateMachine.role;
    grantAthenaQuery(this.stateMachine, role, archive, resultsPrefix);
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
