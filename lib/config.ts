import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { z } from 'zod';
import {
  BATCH_RUN_TIMEOUT_MINUTES,
  MAX_BATCHING_WINDOW_SECONDS,
  STAGE_DEFAULTS,
} from '../functions/commons/layout';
import { LATENESS_RETENTION_DAYS } from '../functions/core/lateness';
import { SPEED_EVENT_SOURCE } from '../functions/speed/settings';

/** How the serving layer's REST API authenticates callers. */
export const API_AUTH_MODES = ['iam', 'apiKey'] as const;
export type ApiAuth = (typeof API_AUTH_MODES)[number];

/** How the Kinesis stream is sized: by AWS as traffic comes (on-demand), or by a fixed shard count. */
export const STREAM_CAPACITY_MODES = ['onDemand', 'provisioned'] as const;

/** Kinesis's default shard quota per account in the largest regions (200 in the others). */
export const MAX_STREAM_SHARDS = 500;

/** The longest rollback retention a stage may set: clean-up reads every manifest kept that long. */
export const MAX_ROLLBACK_RETENTION_DAYS = 31;

const LOG_RETENTION_DAYS = new Set<number>(
  Object.values(RetentionDays).filter((value): value is number => typeof value === 'number'),
);

const positiveInt = z.coerce.number().int().positive();

/** EventBridge Scheduler expressions: `rate(1 hour)`, `cron(0 * * * ? *)`. */
const scheduleExpression = z
  .string()
  .regex(
    /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))$/,
    'expected rate(N unit) or cron(min hour day month weekday year)',
  );

const alarmsSchema = z
  .object({
    /** Alarm when speed and batch differ by more than this ratio on the buckets a run made exact. */
    driftRatio: z.coerce.number().positive().max(1).default(0.01),
    /** Alarm when the speed function reads this far behind the stream's tip. */
    iteratorAgeSeconds: positiveInt.default(300),
    /** Alarm when the on-failure queue holds more than this many given-up batches. */
    failedBatches: z.coerce.number().int().min(0).default(0),
    /** Alarm when more than this many invalid records are quarantined in an hour. */
    quarantinedRecordsPerHour: z.coerce.number().int().min(0).default(100),
    /** Alarm when the API answers more than this many 5xx in five minutes (when an API is wired). */
    api5xxPer5Minutes: z.coerce.number().int().min(0).default(0),
  })
  .strict();

/**
 * One stage's settings. Every field has a default, so a stage block in `cdk.json` names only what it
 * changes; unknown keys are errors, so a misspelt setting cannot be silently ignored.
 */
export const stageConfigSchema = z
  .object({
    /** CloudFormation stack name. */
    stackName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'expected a CloudFormation stack name')
      .default('Driftless'),
    /** Prefix of the names this app gives resources (Athena workgroup, dashboard, alarms). */
    prefix: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,29}$/, 'expected lowercase letters, digits and dashes, at most 30')
      .default('driftless'),
    /** When the batch layer runs. */
    batchSchedule: scheduleExpression.default('rate(1 hour)'),
    /**
     * Allowed lateness in minutes: the watermark trails a run's start by this; or `auto`, learned per view
     * from the speed layer's arrivals (docs/operations.md).
     */
    settleMinutes: z
      .union([z.literal('auto'), z.coerce.number().int().min(0)], {
        error: 'expected number of minutes or "auto"',
      })
      .default(STAGE_DEFAULTS.settleMinutes),
    /** Under `auto`: the share of events (0 to 1) the settle time must cover. */
    settleShare: z.coerce.number().positive().max(1).default(STAGE_DEFAULTS.settleShare),
    /** Under `auto`: the least and the most the settle time may be, in minutes. */
    settleMinMinutes: z.coerce.number().int().min(0).default(STAGE_DEFAULTS.settleMinMinutes),
    settleMaxMinutes: z.coerce.number().int().min(0).default(STAGE_DEFAULTS.settleMaxMinutes),
    /** Under `auto`: the days of arrivals it is learned from (and `GET /views` reports lateness over). */
    settleWindowDays: z.coerce
      .number()
      .int()
      .positive()
      .max(LATENESS_RETENTION_DAYS)
      .default(STAGE_DEFAULTS.settleWindowDays),
    /** How long a replaced batch version is kept; longer than a run may take. */
    graceMinutes: z.coerce
      .number()
      .int()
      .min(BATCH_RUN_TIMEOUT_MINUTES + 1)
      .default(STAGE_DEFAULTS.graceMinutes),
    /**
     * How long a replaced manifest can be rolled back to; clean-up keeps its day versions that long. At
     * most a month: every kept manifest is read by each clean-up, and its day versions stay in the table.
     */
    rollbackRetentionDays: z.coerce
      .number()
      .int()
      .min(0)
      .max(MAX_ROLLBACK_RETENTION_DAYS)
      .default(STAGE_DEFAULTS.rollbackRetentionDays),
    /** How long speed items outlive their bucket before TTL removes them; more than settle. */
    speedRetentionHours: positiveInt.default(STAGE_DEFAULTS.speedRetentionHours),
    /**
     * A new view definition replaces the served one no earlier than this long after the speed layer began
     * counting it: covers a deploy's rollover (old code counting the old version only) and clock skew.
     */
    definitionSwitchMarginSeconds: z.coerce
      .number()
      .int()
      .min(0)
      .default(STAGE_DEFAULTS.definitionSwitchMarginSeconds),
    /** CloudWatch Logs retention of every function and the state machine, in days. */
    logRetentionDays: z.coerce
      .number()
      .refine((days) => LOG_RETENTION_DAYS.has(days), {
        message: `expected one of ${[...LOG_RETENTION_DAYS].join(', ')}`,
      })
      .default(30),
    /** Athena refuses a query that would scan more than this. */
    athenaBytesScannedCutoffGiB: positiveInt.default(100),
    /** Athena query results are deleted after this many days. */
    queryResultsRetentionDays: positiveInt.default(STAGE_DEFAULTS.queryResultsRetentionDays),
    /** Finance exports (under EXPORTS_PREFIX) are deleted after this many days. */
    exportsRetentionDays: positiveInt.default(STAGE_DEFAULTS.exportsRetentionDays),
    /** `retain` keeps the table and the data buckets on `cdk destroy`; `destroy` deletes them. */
    removalPolicy: z.enum(['retain', 'destroy']).default('retain'),
    /** Alarm notifications go to this address when set (confirm the SNS subscription mail). */
    alarmEmail: z.email().optional(),
    /**
     * How the serving layer's API authenticates: an API key with a usage plan (the default: a dashboard
     * page and the CLI can send it), or IAM (SigV4, for callers with AWS credentials).
     */
    apiAuth: z.enum(API_AUTH_MODES).default('apiKey'),
    /**
     * How the stream is sized: `onDemand` (billed per stream-hour and GB, scales by itself) or
     * `provisioned` (billed per shard-hour, `streamShards` of them).
     */
    streamCapacity: z.enum(STREAM_CAPACITY_MODES).default('onDemand'),
    /** The provisioned stream's shards (each takes 1 MB/s or 1000 records/s in); only with `provisioned`. */
    streamShards: z.coerce.number().int().min(1).max(MAX_STREAM_SHARDS).optional(),
    /**
     * How long the speed mapping gathers a shard's records before it invokes the function, unless a
     * batch fills first: longer means fewer, larger invocations; shorter, fresher speed views.
     */
    speedBatchingWindowSeconds: z.coerce
      .number()
      .int()
      .min(0)
      .max(MAX_BATCHING_WINDOW_SECONDS)
      .default(SPEED_EVENT_SOURCE.maximumBatchingWindowMs / 1000),
    alarms: alarmsSchema.default(alarmsSchema.parse({})),
  })
  .strict()
  .superRefine((config, context) => {
    const auto = config.settleMinutes === 'auto';
    if (
      config.speedRetentionHours * 60 <=
      (auto ? config.settleMaxMinutes : (config.settleMinutes as number))
    ) {
      context.addIssue({
        code: 'custom',
        path: ['speedRetentionHours'],
        message: `must exceed ${auto ? 'settleMaxMinutes' : 'settleMinutes'}, so the batch view takes over before speed items expire`,
      });
    }
    if (config.settleMinMinutes > config.settleMaxMinutes) {
      context.addIssue({
        code: 'custom',
        path: ['settleMinMinutes'],
        message: 'must not exceed settleMaxMinutes',
      });
    }
    if (config.streamCapacity === 'provisioned' && config.streamShards === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['streamShards'],
        message: 'required when streamCapacity is provisioned',
      });
    }
    if (config.streamCapacity === 'onDemand' && config.streamShards !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['streamShards'],
        message: 'only with streamCapacity provisioned: an on-demand stream has no shard count to set',
      });
    }
  });

export type StageConfig = z.output<typeof stageConfigSchema>;
/** A stage block as written: any setting may be left to its default. */
export type StageSettings = z.input<typeof stageConfigSchema>;

/** The defaults: what a stage block that names nothing gets. */
export const DEFAULT_STAGE_CONFIG: StageConfig = stageConfigSchema.parse({});

export class StageConfigError extends Error {
  override readonly name = 'StageConfigError';
}

/** Context keys this module reads. */
export const CONTEXT_KEYS = {
  stage: 'stage',
  stages: 'driftless:stages',
} as const;

const OVERRIDABLE_KEYS = [
  ...Object.keys(stageConfigSchema.shape).filter((key) => key !== 'alarms'),
  ...Object.keys(alarmsSchema.shape).map((key) => `alarms.${key}`),
];

/**
 * Resolves a stage's configuration from CDK context: `-c stage=<name>` picks the block
 * `driftless:stages.<name>` of `cdk.json` (default `dev`), and any setting given on its own
 * (`-c settleMinutes=30`, `-c alarms.driftRatio=0.05`) overrides the block. Fails with a message naming
 * every bad key.
 */
export function resolveStageConfig(tryGetContext: (key: string) => unknown): StageConfig & { stage: string } {
  const stage = tryGetContext(CONTEXT_KEYS.stage) ?? 'dev';
  if (typeof stage !== 'string' || stage === '') {
    throw new StageConfigError(`bad context: ${CONTEXT_KEYS.stage}: expected a stage name`);
  }
  const stages = tryGetContext(CONTEXT_KEYS.stages) ?? {};
  if (typeof stages !== 'object' || stages === null || Array.isArray(stages)) {
    throw new StageConfigError(`bad context: ${CONTEXT_KEYS.stages}: expected an object of stage blocks`);
  }
  const block = (stages as Record<string, unknown>)[stage];
  if (block === undefined) {
    const known = Object.keys(stages).join(', ') || 'none';
    throw new StageConfigError(
      `bad context: ${CONTEXT_KEYS.stage}: no stage '${stage}' in ${CONTEXT_KEYS.stages} (known: ${known})`,
    );
  }
  if (typeof block !== 'object' || block === null || Array.isArray(block)) {
    throw new StageConfigError(`bad context: ${CONTEXT_KEYS.stages}.${stage}: expected an object`);
  }

  const merged: Record<string, unknown> = { ...block };
  const origin = new Map<string, string>();
  for (const key of OVERRIDABLE_KEYS) {
    const value = tryGetContext(key);
    if (value === undefined) continue;
    origin.set(key, `-c ${key}`);
    const [head, tail] = key.split('.') as [string, string | undefined];
    if (tail === undefined) merged[head] = value;
    else merged[head] = { ...(merged[head] as object | undefined), [tail]: value };
  }

  const where = (path: string) =>
    origin.get(path) ?? `${CONTEXT_KEYS.stages}.${stage}${path ? `.${path}` : ''}`;
  return { ...parseStageConfig(merged, `bad context for stage '${stage}'`, where), stage };
}

/**
 * Validates one stage's settings, defaults filling the rest. Fails with a StageConfigError under
 * `heading` naming every bad setting, each as `where` names its path.
 */
export function parseStageConfig(
  settings: unknown,
  heading = 'bad stage settings',
  where: (path: string) => string = (path) => path,
): StageConfig {
  const result = stageConfigSchema.safeParse(settings);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${where(issue.path.join('.'))}: ${issue.message}`);
  throw new StageConfigError(`${heading}: ${problems.join('; ')}`);
}
