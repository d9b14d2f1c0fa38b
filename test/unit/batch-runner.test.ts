import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { StepFunctionsBatchRunner } from '../../functions/adapters/batch-runner';

const sfn = mockClient(SFNClient);
const machine = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Batch';
const execution = (name: string) => `arn:aws:states:eu-west-1:123456789012:execution:Batch:${name}`;
const missing = () => new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} });

beforeEach(() => {
  sfn.reset();
  sfn.on(DescribeExecutionCommand).rejects(missing());
});

describe('Step Functions batch runner', () => {
  it('describes a run the API started by the execution named after it', async () => {
    sfn.on(DescribeExecutionCommand, { executionArn: execution('run-1') }).resolves({
      status: 'SUCCEEDED',
      startDate: new Date(1_000),
      stopDate: new Date(2_000),
    });
    const runner = new StepFunctionsBatchRunner(new SFNClient({}), machine);
    await expect(runner.describe('run-1')).resolves.toEqual({
      id: 'run-1',
      status: 'SUCCEEDED',
      startedAt: 1_000,
      stoppedAt: 2_000,
      error: null,
    });
  });

  it('describes a scheduled run by the execution its plan recorded, named by the scheduler', async () => {
    sfn.on(DescribeExecutionCommand, { executionArn: execution('a1b2c3d4-scheduler') }).resolves({
      status: 'FAILED',
      startDate: new Date(1_000),
      stopDate: new Date(3_000),
      error: 'States.TaskFailed',
      cause: 'Athena query failed',
    });
    const recorded = new Map([['run-20261129T150000000Z-abcdef', execution('a1b2c3d4-scheduler')]]);
    const runner = new StepFunctionsBatchRunner(
      new SFNClient({}),
      machine,
      async (runId) => recorded.get(runId) ?? null,
    );
    await expect(runner.describe('run-20261129T150000000Z-abcdef')).resolves.toMatchObject({
      id: 'run-20261129T150000000Z-abcdef',
      status: 'FAILED',
      error: 'States.TaskFailed: Athena query failed',
    });
    await expect(runner.describe('run-unknown')).resolves.toBeNull();
  });
});
