import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';

export type BatchRunStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface BatchRunState {
  readonly id: string;
  readonly status: BatchRunStatus;
  readonly startedAt: number;
  readonly stoppedAt: number | null;
  readonly error: string | null;
}

/** What the batch run's input may ask for; `runId` names the run (and its drift reports). */
export interface BatchRunInput {
  readonly runId: string;
  readonly backfill?: readonly string[];
}

/** Starts batch runs and reports on them: the state machine in AWS, the local runner on a laptop. */
export interface BatchRunner {
  start(input: BatchRunInput): Promise<void>;
  /** Null when there is no run with this id. */
  describe(id: string): Promise<BatchRunState | null>;
}

/** The ARN of the execution named `name` of a state machine. */
export const executionArnOf = (stateMachineArn: string, name: string): string =>
  `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;

/**
 * Step Functions. A run the API starts is the execution named by its id; a scheduled one is not (the
 * scheduler names it), so its plan records its execution under the id, and `executionOf` finds it.
 */
export class StepFunctionsBatchRunner implements BatchRunner {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string,
    private readonly executionOf: (runId: string) => Promise<string | null> = async () => null,
  ) {}

  async start(input: BatchRunInput): Promise<void> {
    await this.client.send(
      new StartExecutionCommand({
        stateMachineArn: this.stateMachineArn,
        name: input.runId,
        input: JSON.stringify(input),
      }),
    );
  }

  async describe(id: string): Promise<BatchRunState | null> {
    const named = await this.describeExecution(id, executionArnOf(this.stateMachineArn, id));
    if (named !== null) return named;
    const recorded = await this.executionOf(id);
    return recorded === null ? null : this.describeExecution(id, recorded);
  }

  private async describeExecution(id: string, executionArn: string): Promise<BatchRunState | null> {
    try {
      const execution = await this.client.send(new DescribeExecutionCommand({ executionArn }));
      const status: BatchRunStatus =
        execution.status === 'RUNNING' || execution.status === 'PENDING_REDRIVE'
          ? 'RUNNING'
          : execution.status === 'SUCCEEDED'
            ? 'SUCCEEDED'
            : 'FAILED';
      return {
        id,
        status,
        startedAt: execution.startDate?.getTime() ?? 0,
        stoppedAt: execution.stopDate?.getTime() ?? null,
        error:
          status === 'FAILED'
            ? `${execution.error ?? execution.status}: ${execution.cause ?? ''}`.trim()
            : null,
      };
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return null;
      throw error;
    }
  }
}
