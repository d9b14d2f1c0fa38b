import { z } from 'zod';
import { catalogs } from '../../events';
import { views } from '../../views';
import { DynamoBatchStore } from '../adapters/dynamo-batch-store';
import { DynamoSpeedStore } from '../adapters/dynamo-speed-store';
import { requiredVariable } from '../commons/config';
import { defineFunction } from '../commons/function';
import { SERVICES } from '../commons/metrics';
import type { Platform } from '../commons/platform';
import { createPowertools } from '../commons/powertools';
import { longestSettleMs, settleEnvironment, settlePolicyOf } from '../commons/settle';
import { checkViewCatalogs } from '../core';
import { BACKFILL_LOADS_PER_RUN, DAYS_PER_LOAD } from './chunks';
import { cleanup } from './cleanup';
import { commit } from './commit';
import type { BatchDeps } from './deps';
import { load } from './load';
import { type PlanEvent, plan } from './plan';
import { reconcile } from './reconcile';

/**
 * What every batch step reads (the five functions share one environment). No archive bucket: the days
 * to read come from the archive markers in the table; only Athena reads the archive. The delivery
 * stream's name is for the plan, which bounds the watermark by what Firehose has delivered.
 */
const batchEnvironment = {
  TABLE_NAME: requiredVariable('TABLE_NAME', 'the DynamoDB table'),
  ATHENA_WORKGROUP: requiredVariable('ATHENA_WORKGROUP', 'the Athena workgroup'),
  GLUE_DATABASE: requiredVariable('GLUE_DATABASE', "the Glue database of the catalogs' tables"),
  DELIVERY_STREAM_NAME: requiredVariable(
    'DELIVERY_STREAM_NAME',
    'the Firehose delivery stream writing the archive (the plan reads its metrics)',
  ),
  ...settleEnvironment,
  GRACE_MINUTES: z.coerce.number().int().nonnegative(),
  ROLLBACK_RETENTION_DAYS: z.coerce.number().int().nonnegative(),
  DEFINITION_SWITCH_MARGIN_SECONDS: z.coerce.number().int().nonnegative(),
};

type BatchConfig = z.output<z.ZodObject<typeof batchEnvironment>> & {
  readonly POWERTOOLS_SERVICE_NAME: string;
  readonly POWERTOOLS_METRICS_NAMESPACE: string;
};

/** The batch steps' dependencies, from their environment and the platform. */
export function batchDeps(config: BatchConfig, platform: Platform): BatchDeps {
  checkViewCatalogs(views, catalogs);
  const { logger, metrics } = createPowertools(config);
  const settle = settlePolicyOf(config);
  return {
    views,
    store: new DynamoBatchStore(platform.dynamo, config.TABLE_NAME, catalogs),
    speed: new DynamoSpeedStore(platform.dynamo, config.TABLE_NAME),
    engine: platform.queryEngine({ workGroup: config.ATHENA_WORKGROUP, database: config.GLUE_DATABASE }),
    archive: platform.archiveCompleteness(config.DELIVERY_STREAM_NAME),
    settle,
    settleMs: longestSettleMs(settle),
    graceMs: config.GRACE_MINUTES * 60_000,
    rollbackRetentionMs: config.ROLLBACK_RETENTION_DAYS * 86_400_000,
    definitionSwitchMarginMs: config.DEFINITION_SWITCH_MARGIN_SECONDS * 1_000,
    daysPerLoad: DAYS_PER_LOAD,
    loadsPerRun: BACKFILL_LOADS_PER_RUN,
    logger,
    metrics,
    now: platform.now,
  };
}

/** What each batch function runs, over its dependencies. */
export const BATCH_STEPS = {
  plan: (deps: BatchDeps, event: PlanEvent) =>
    plan(deps, { ...event.input, executionArn: event.executionArn }),
  load,
  commit,
  reconcile,
  cleanup: (deps: BatchDeps, _input: unknown) => cleanup(deps),
};

type StepName = keyof typeof BATCH_STEPS;

const step = <N extends StepName>(name: N) =>
  defineFunction({
    name: `batch-${name}`,
    handlerFile: 'functions/batch/handler.ts',
    handlerExport: name,
    service: SERVICES.batch,
    environment: batchEnvironment,
    build: (config, platform) => {
      const deps = batchDeps(config, platform);
      const run = BATCH_STEPS[name] as (
        deps: BatchDeps,
        input: Parameters<(typeof BATCH_STEPS)[N]>[1],
      ) => ReturnType<(typeof BATCH_STEPS)[N]>;
      return (input: Parameters<(typeof BATCH_STEPS)[N]>[1]) => run(deps, input);
    },
  });

/** The five batch functions, one per Lambda task of the state machine; `handler.ts` exports each. */
export const batchFunctions = {
  plan: step('plan'),
  load: step('load'),
  commit: step('commit'),
  reconcile: step('reconcile'),
  cleanup: step('cleanup'),
};

/**
 * The batch functions' handlers over given dependencies, by function name: what tests run the state
 * machine with when they inject a clock, a failing store or other views.
 */
export function batchHandlersOver(deps: BatchDeps): Map<string, (input: never) => Promise<unknown>> {
  return new Map(
    (Object.keys(BATCH_STEPS) as StepName[]).map((name) => [
      batchFunctions[name].name,
      (input: never) =>
        (BATCH_STEPS[name] as (deps: BatchDeps, input: never) => Promise<unknown>)(deps, input),
    ]),
  );
}
