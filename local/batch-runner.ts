import { randomUUID } from 'node:crypto';
import { App } from 'aws-cdk-lib';
import { StateMachine } from 'aws-local-stepfunctions';
import {
  type BatchRunInput,
  type BatchRunner,
  type BatchRunState,
  executionArnOf,
} from '../functions/adapters/batch-runner';
import { cleanup } from '../functions/batch/cleanup';
import { commit } from '../functions/batch/commit';
import type { BatchDeps } from '../functions/batch/deps';
import { load } from '../functions/batch/load';
import { type PlanEvent, type PlanInput, plan, type RunPlan } from '../functions/batch/plan';
import { reconcile } from '../functions/batch/reconcile';
import { BATCH_STATES } from '../lib/batch-layer';
import { DriftlessStack } from '../lib/stack';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type StateName = (typeof BATCH_STATES)[keyof typeof BATCH_STATES];

/** The ARN local executions are named under, as if the state machine were deployed. */
export const LOCAL_STATE_MACHINE_ARN =
  'arn:aws:states:us-east-1:000000000000:stateMachine:driftless-batch-local';

/** Joins an `Fn::Join` of the synthesized definition; references (function ARNs) become placeholders. */
function resolveJoin(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join === undefined) return 'arn:aws:lambda:us-east-1:000000000000:function:local';
  return join[1].map(resolveJoin).join(join[0]);
}

let cachedDefinition: object | undefined;

/** The batch state machine exactly as CDK synthesizes it for AWS (without bundling the functions). */
export function synthesizeBatchDefinition(): object {
  if (cachedDefinition !== undefined) return cachedDefinition;
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  new DriftlessStack(app, 'Local');
  const template = app.synth().getStackByName('Local').template as {
    Resources: Record<string, { Type: string; Properties: { DefinitionString: unknown } }>;
  };
  const machine = Object.values(template.Resources).find(
    (resource) => resource.Type === 'AWS::StepFunctions::StateMachine',
  );
  if (machine === undefined) throw new Error('the stack has no state machine');
  cachedDefinition = JSON.parse(resolveJoin(machine.Properties.DefinitionString)) as object;
  return cachedDefinition;
}

export interface LocalRunOptions {
  readonly input?: PlanInput;
  /** Throws in this state, before its step runs: for crash tests. */
  readonly crashAt?: StateName;
  /** Sees the run's plan (which days it reads), for statistics. */
  readonly onPlan?: (plan: RunPlan) => void;
  /** Runs each step: to see what a step does (the calls it makes), for tests. */
  readonly aroundStep?: <O>(state: StateName, run: () => Promise<O>) => Promise<O>;
}

/**
 * Runs the synthesized batch state machine with aws-local-stepfunctions, its tasks routed to the
 * same step code the Lambda handlers call, and Athena's `.sync` query routed to DuckDB.
 */
export async function runBatchLocally(deps: BatchDeps, options: LocalRunOptions = {}): Promise<Json> {
  const machine = new StateMachine(synthesizeBatchDefinition() as never, {
    validationOptions: { checkArn: false },
  });
  const step =
    <I, O>(state: StateName, run: (input: I) => Promise<O>) =>
    async (input: I): Promise<O> => {
      if (options.crashAt === state) throw new Error(`injected crash in ${state}`);
      return options.aroundStep === undefined ? run(input) : options.aroundStep(state, () => run(input));
    };
  const taskResourceLocalHandlers = {
    [BATCH_STATES.plan]: step(BATCH_STATES.plan, async (event: PlanEvent) => {
      const planned = await plan(deps, {
        ...event.input,
        ...options.input,
        executionArn: event.executionArn,
      });
      options.onPlan?.(planned);
      return planned;
    }),
    [BATCH_STATES.query]: step(BATCH_STATES.query, async (input: { QueryString: string }) => {
      const queryExecutionId = await deps.engine.start(input.QueryString);
      await deps.engine.wait(queryExecutionId);
      return { QueryExecution: { QueryExecutionId: queryExecutionId, Status: { State: 'SUCCEEDED' } } };
    }),
    [BATCH_STATES.load]: step(BATCH_STATES.load, (input: Parameters<typeof load>[1]) => load(deps, input)),
    [BATCH_STATES.commit]: step(BATCH_STATES.commit, (input: Parameters<typeof commit>[1]) =>
      commit(deps, input),
    ),
    [BATCH_STATES.reconcile]: step(BATCH_STATES.reconcile, (input: Parameters<typeof reconcile>[1]) =>
      reconcile(deps, input),
    ),
    [BATCH_STATES.cleanup]: step(BATCH_STATES.cleanup, () => cleanup(deps)),
  } as unknown as Record<string, (input: Json) => Promise<Json>>;
  // The context object Step Functions gives an execution: Plan records the execution under the run id.
  const name = options.input?.runId ?? randomUUID();
  const context = {
    Execution: {
      Id: executionArnOf(LOCAL_STATE_MACHINE_ARN, name),
      Name: name,
    },
  };
  const execution = machine.run((options.input ?? {}) as Json, {
    overrides: { taskResourceLocalHandlers },
    context,
  });
  return (await execution.result) as Json;
}

/**
 * Batch runs started through the local API: the synthesized state machine run in this process. Their
 * states live in memory, as long as the runtime does; the manifests and drift reports they write persist.
 */
export class LocalBatchRunner implements BatchRunner {
  private readonly runs = new Map<string, BatchRunState>();
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly deps: BatchDeps) {}

  async start(input: BatchRunInput): Promise<void> {
    const startedAt = this.deps.now();
    this.runs.set(input.runId, {
      id: input.runId,
      status: 'RUNNING',
      startedAt,
      stoppedAt: null,
      error: null,
    });
    const finish = (status: 'SUCCEEDED' | 'FAILED', error: string | null) =>
      this.runs.set(input.runId, { id: input.runId, status, startedAt, stoppedAt: this.deps.now(), error });
    const run = runBatchLocally(this.deps, { input: { ...input, now: startedAt } }).then(
      () => finish('SUCCEEDED', null),
      (error: Error) => {
        this.deps.logger.error('local batch run failed', { runId: input.runId, error });
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
