import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import {
  type BatchRunInput,
  type BatchRunner,
  type BatchRunState,
  executionArnOf,
} from '../functions/adapters/batch-runner';
import type { QueryEngine } from '../functions/adapters/query-engine';
import { batchHandlersOver } from '../functions/batch/context';
import type { BatchDeps } from '../functions/batch/deps';
import type { PlanInput, RunPlan } from '../functions/batch/plan';
import type { BATCH_STATES } from '../lib/batch-layer';
import {
  type CloudFormationTemplate,
  functionNameOfArn,
  LocalNames,
  stateMachineArnOf,
  stateMachineDefinitionOf,
  synthesizeTemplate,
} from './template';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type StateName = (typeof BATCH_STATES)[keyof typeof BATCH_STATES];
type State = {
  Type: string;
  Resource?: string;
  ItemProcessor?: { States: Record<string, State> };
  Iterator?: { States: Record<string, State> };
};

/** What a batch run executes: the synthesized state machine and what its tasks reach. */
export interface BatchTarget {
  /** The state machine's definition as synthesized, intrinsics resolved to local names. */
  readonly definition: object;
  readonly stateMachineArn: string;
  /** Lambda functions by name: a task whose Resource is a function's ARN invokes it. */
  readonly functions: ReadonlyMap<string, (input: never) => Promise<unknown>>;
  /** Runs the Athena `.sync` tasks' queries. */
  readonly engine: QueryEngine;
}

/**
 * The synthesized state machine over batch functions given their dependencies: how tests and benchmarks
 * inject a clock, other views or a failing store while running the definition that deploys.
 */
export function batchTargetOver(
  deps: BatchDeps,
  template: CloudFormationTemplate = synthesizeTemplate(),
  names: LocalNames = new LocalNames(template),
): BatchTarget {
  return {
    definition: stateMachineDefinitionOf(template, names),
    stateMachineArn: stateMachineArnOf(template, names),
    functions: batchHandlersOver(deps),
    engine: deps.engine,
  };
}

export interface LocalRunOptions {
  readonly input?: PlanInput;
  /** Throws in this state, before its task runs: for crash tests. */
  readonly crashAt?: StateName;
  /** Sees the run's plan (each view's first load), for statistics. */
  readonly onPlan?: (plan: RunPlan) => void;
  /** Sees each task's input and output (every load's days, say), for statistics and tests. */
  readonly onTask?: (state: StateName, input: unknown, output: unknown) => void;
  /** Runs each task: to see what a step does (the calls it makes), for tests. */
  readonly aroundStep?: <O>(state: StateName, run: () => Promise<O>) => Promise<O>;
  /** Waits this long before each retry instead of the definition's backoff: tests need not wait. */
  readonly retryIntervalMs?: number;
}

/** Every Task state of a definition, Map item processors included. */
function taskStates(states: Record<string, State>): [string, State][] {
  return Object.entries(states).flatMap(([name, state]) => {
    const inner = state.ItemProcessor?.States ?? state.Iterator?.States;
    return [
      ...(state.Type === 'Task' ? [[name, state] as [string, State]] : []),
      ...(inner ? taskStates(inner) : []),
    ];
  });
}

/**
 * Runs the synthesized batch state machine with aws-local-stepfunctions. Each Lambda task invokes the
 * function its Resource ARN names, with the input the state machine gives it; the Athena `.sync` task
 * runs its query on the target's engine. A task of any other service fails the run: it is not emulated.
 */
export async function runBatchLocally(target: BatchTarget, options: LocalRunOptions = {}): Promise<Json> {
  const machine = new StateMachine(target.definition as never, { validationOptions: { checkArn: false } });
  const handlers: Record<string, (input: Json) => Promise<Json>> = {};
  const states = (target.definition as { States: Record<string, State> }).States;
  for (const [name, state] of taskStates(states)) {
    const resource = state.Resource ?? '';
    const functionName = functionNameOfArn(resource);
    let run: (input: Json) => Promise<unknown>;
    if (functionName !== null) {
      const fn = target.functions.get(functionName);
      if (fn === undefined)
        throw new Error(`state ${name} invokes ${functionName}, which the local run does not have`);
      run = (input) => fn(input as never);
    } else if (/:athena:startQueryExecution\.sync$/.test(resource)) {
      run = async (input) => {
        try {
          const queryExecutionId = await target.engine.start((input as { QueryString: string }).QueryString);
          await target.engine.wait(queryExecutionId);
          return { QueryExecution: { QueryExecutionId: queryExecutionId, Status: { State: 'SUCCEEDED' } } };
        } catch (error) {
          // As Step Functions reports a `.sync` query that failed: what its Retry and Catch match.
          throw Object.assign(new Error((error as Error).message), { name: 'States.TaskFailed' });
        }
      };
    } else {
      throw new Error(`state ${name}: ${resource} is not emulated locally`);
    }
    handlers[name] = async (input) => {
      if (options.crashAt === name) throw new Error(`injected crash in ${name}`);
      const output = (await (options.aroundStep === undefined
        ? run(input)
        : options.aroundStep(name as StateName, () => run(input)))) as Json;
      if (name === 'Plan') options.onPlan?.(output as unknown as RunPlan);
      options.onTask?.(name as StateName, input, output);
      return output;
    };
  }
  // The context object Step Functions gives an execution: Plan records the execution under the run id.
  const name = options.input?.runId ?? randomUUID();
  const context = { Execution: { Id: executionArnOf(target.stateMachineArn, name), Name: name } };
  const retryIntervalOverrides =
    options.retryIntervalMs === undefined
      ? undefined
      : Object.fromEntries(Object.keys(handlers).map((state) => [state, options.retryIntervalMs as number]));
  const execution = machine.run((options.input ?? {}) as Json, {
    overrides: {
      taskResourceLocalHandlers: handlers,
      ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}),
    },
    context,
  });
  return (await execution.result) as Json;
}

/**
 * Batch runs started through the local API or the schedule: the synthesized state machine run in this
 * process. Their states live in memory, as long as the runtime does; what they write persists.
 */
export class LocalBatchRunner implements BatchRunner {
  private readonly runs = new Map<string, BatchRunState>();
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly target: BatchTarget,
    private readonly now: () => number,
    private readonly onError: (runId: string, error: Error) => void,
  ) {}

  async start(input: BatchRunInput): Promise<void> {
    const startedAt = this.now();
    this.runs.set(input.runId, {
      id: input.runId,
      status: 'RUNNING',
      startedAt,
      stoppedAt: null,
      error: null,
    });
    const finish = (status: 'SUCCEEDED' | 'FAILED', error: string | null) =>
      this.runs.set(input.runId, { id: input.runId, status, startedAt, stoppedAt: this.now(), error });
    const run = runBatchLocally(this.target, { input: { ...input, now: startedAt } }).then(
      () => finish('SUCCEEDED', null),
      (error: Error) => {
        this.onError(input.runId, error);
        finish('FAILED', error.message);
      },
    );
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  async describe(id: string): Promise<BatchRunState | null> {
    return this.runs.get(id) ?? null;
  }

  /** Resolves when no run is in progress: for a clean stop. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
