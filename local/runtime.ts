import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { ResourceInUseException as StreamInUseException } from '@aws-sdk/client-kinesis';
import { catalogs } from '../events';
import { DuckDbQueryEngine } from '../functions/adapters/duckdb';
import { apiFunction } from '../functions/api/context';
import { newRunId } from '../functions/batch/plan';
import { STAGE_DEFAULTS } from '../functions/commons/layout';
import { speedFunction } from '../functions/speed/config';
import { parseStageConfig, type StageSettings } from '../lib/config';
import { type LocalApiServer, type StaticMount, startApiGateway } from './api-server';
import { LocalBatchRunner } from './batch-runner';
import { type Demo, startDemo } from './demo';
import { createStream, createTable, type Emulators, startEmulators } from './emulators';
import { LocalEventBridge } from './eventbridge';
import { type FirehoseTransform, localArchiveCompleteness, localFirehose } from './firehose';
import { type CheckpointStore, KinesisConsumer } from './kinesis-consumer';
import { bucketDir, localPlatform } from './platform';
import {
  archiveLocationOf,
  type CloudFormationTemplate,
  deliveryOf,
  eventSourceOf,
  LocalNames,
  stateMachineArnOf,
  stateMachineDefinitionOf,
  streamShardsOf,
  synthesizeTemplate,
  templateFunctions,
} from './template';

/**
 * Shards of the local stream when the stage's is on-demand: more than one, so per-shard ordering and
 * checkpoints are exercised. A provisioned stage's stream gets its own shard count.
 */
const LOCAL_SHARDS = 2;

export interface RuntimeOptions {
  /** Where everything persists between runs. @default .driftless */
  readonly dataDir?: string;
  /** The API's port; 0 picks a free one. @default 3000 */
  readonly port?: number;
  /** The emulators' ports; 0 picks free ones. @default 0 */
  readonly dynamoPort?: number;
  readonly kinesisPort?: number;
  /** Keep the emulators' data in memory instead of under the data folder (benchmarks). @default false */
  readonly emulatorsInMemory?: boolean;
  /** How often a batch run starts; 0 never (runs start through the API). @default 5 minutes */
  readonly batchEveryMs?: number;
  /**
   * How far the watermark trails now, in whole minutes: the stage's `settleMinutes`, which the template
   * gives the batch functions as SETTLE_MINUTES; or `auto`, learned from arrivals within the stage's
   * `settleMinMinutes`..`settleMaxMinutes` (set them in `stage`). @default 1 minute
   */
  readonly settleMs?: number | 'auto';
  /**
   * Speed items live this long past their bucket, in whole hours (the stage's `speedRetentionHours`).
   * @default STAGE_DEFAULTS.speedRetentionHours
   */
  readonly speedRetentionMs?: number;
  /**
   * Other settings of the stage the template is synthesized for, as a `cdk.json` stage block gives them
   * (`speedBatchingWindowSeconds`, `streamCapacity`, `streamShards`...): the local run then reproduces
   * that stage. Bad values fail with a StageConfigError naming the setting. @default the defaults
   */
  readonly stage?: Omit<StageSettings, 'settleMinutes' | 'speedRetentionHours'>;
  /**
   * How long the local Firehose gathers records before a delivery: Firehose's buffering, which the local
   * run shortens from the template's 60 s so that the archive follows the stream closely. @default 1000
   */
  readonly archiveBufferMs?: number;
  /** The key callers send as x-api-key. @default the one kept in `<dataDir>/api-key`, made on first start */
  readonly apiKey?: string;
  /** Extra folders the API serves. */
  readonly mounts?: readonly StaticMount[];
  /** Serves the dashboard page at `/` (and uPlot under `/vendor/uplot/`). @default false */
  readonly dashboard?: boolean;
  /** Posts demo order events through the API at this many per second; 0 or absent: no demo. */
  readonly demoRate?: number;
  /**
   * Publishes Powertools' EMF metrics to stdout. Off by default: locally they are noise (CloudWatch
   * reads them in AWS), so the runtime sets POWERTOOLS_METRICS_DISABLED unless it is already set.
   */
  readonly metrics?: boolean;
  /** The functions' log level (POWERTOOLS_LOG_LEVEL, unless already set). @default WARN */
  readonly logLevel?: string;
  /** The runtime's own log (failed batch runs, demo errors). */
  readonly logger?: Logger;
}

export interface Runtime {
  readonly apiUrl: string;
  /** What callers send as x-api-key (the template's methods require a key). */
  readonly apiKey: string;
  /** The dashboard's address, when it is served. */
  readonly dashboardUrl: string | null;
  /** The demo generator, when it runs. */
  readonly demo: Demo | null;
  readonly dataDir: string;
  /** The archive bucket's folder: what Firehose delivers and the `events_<catalog>` tables read. */
  readonly archiveDir: string;
  readonly emulators: Emulators;
  readonly tableName: string;
  readonly streamName: string;
  /** The synthesized stack the run reproduces. */
  readonly template: CloudFormationTemplate;
  readonly batchRunner: LocalBatchRunner;
  readonly speedConsumer: KinesisConsumer;
  readonly archiveConsumer: KinesisConsumer;
  readonly server: LocalApiServer;
  /** Starts a batch run now; resolves to its id. */
  startBatchRun(): Promise<string>;
  /** Stops accepting requests, finishes the batches in hand and the running batch run, then closes. */
  stop(): Promise<void>;
}

/** Shard positions in a JSON file, so a restarted runtime reads on from where it stopped. */
class FileCheckpoints implements CheckpointStore {
  private positions: Record<string, string> | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  private async load(): Promise<Record<string, string>> {
    if (this.positions === undefined) {
      try {
        this.positions = JSON.parse(await readFile(this.file, 'utf8')) as Record<string, string>;
      } catch {
        this.positions = {};
      }
    }
    return this.positions;
  }

  async get(shardId: string): Promise<string | null> {
    return (await this.load())[shardId] ?? null;
  }

  async set(shardId: string, sequenceNumber: string): Promise<void> {
    const positions = await this.load();
    positions[shardId] = sequenceNumber;
    const text = JSON.stringify(positions);
    // Written whole through a rename, one write at a time: a crash leaves the old or the new file.
    this.writing = this.writing.then(async () => {
      await writeFile(`${this.file}.tmp`, text);
      await rename(`${this.file}.tmp`, this.file);
    });
    await this.writing;
  }
}

/** What is given up on (a batch, an event) goes where its on-failure destination would: a file, a JSON line each. */
const failureLog = (file: string) => async (failure: object) => {
  await writeFile(file, `${JSON.stringify({ ...failure, at: new Date().toISOString() })}\n`, { flag: 'a' });
};

/** Where the local server serves bucket folders from (export downloads; presigned URLs in AWS). */
const DOWNLOADS = '/downloads';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The dashboard page and the chart library it loads, as static mounts (uPlot first: `/` takes the rest). */
export const DASHBOARD_MOUNTS: readonly StaticMount[] = [
  { prefix: '/vendor/uplot', dir: join(ROOT, 'node_modules', 'uplot', 'dist') },
  { prefix: '/', dir: join(ROOT, 'dashboard') },
];

/** What a user needs to point a browser, the CLI, or the AWS SDK and CLI at the local pipeline. */
export function describeEndpoints(runtime: Runtime): Record<string, string> {
  return {
    ...(runtime.dashboardUrl === null ? {} : { dashboard: runtime.dashboardUrl }),
    api: runtime.apiUrl,
    'api key': `${runtime.apiKey} (x-api-key; kept in ${join(runtime.dataDir, API_KEY_FILE)})`,
    kinesis: `${runtime.emulators.kinesisEndpoint} (stream ${runtime.streamName})`,
    dynamodb: `${runtime.emulators.dynamoEndpoint} (table ${runtime.tableName})`,
    data: runtime.dataDir,
  };
}

/** Where the local API key is kept, in the data folder: the CLI reads it from there. */
export const API_KEY_FILE = 'api-key';
/** Where the local API's address is kept, in the data folder, for the CLI. */
export const API_URL_FILE = 'api-url';

async function apiKeyOf(dataDir: string, given: string | undefined): Promise<string> {
  if (given !== undefined) return given;
  const file = join(dataDir, API_KEY_FILE);
  const kept = await readFile(file, 'utf8').catch(() => null);
  if (kept !== null && kept.trim() !== '') return kept.trim();
  const made = randomBytes(20).toString('base64url');
  await writeFile(file, `${made}\n`, { mode: 0o600 });
  return made;
}

const ignoreExisting = (error: unknown, type: new (...args: never[]) => Error) => {
  if (!(error instanceof type)) throw error;
};

const wholeUnits = (ms: number, unit: number, what: string): number => {
  if (!Number.isInteger(ms / unit) || ms < 0)
    throw new Error(
      `${what} must be whole ${unit === 60_000 ? 'minutes' : 'hours'} (the stage's setting is), got ${ms} ms`,
    );
  return ms / unit;
};

/**
 * The whole pipeline in one process, as the synthesized stack deploys it: every function is built by
 * its own factory from the environment the template gives it, with the SDK clients pointed at dynalite
 * and kinesalite and local stand-ins for S3, Athena and Step Functions. Around them, what AWS does: the
 * Kinesis event source mapping (the local poller, with the template's settings), Firehose (its
 * transform and prefixes), Step Functions (the synthesized definition) and API Gateway (the synthesized
 * REST API: keys, binary bodies, limits, gateway responses).
 */
export async function startRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const dataDir = resolve(options.dataDir ?? '.driftless');
  if (options.metrics !== true) process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  process.env.POWERTOOLS_LOG_LEVEL ??= options.logLevel ?? 'WARN';
  const logger = options.logger ?? new Logger({ serviceName: 'driftless-local' });
  const config = parseStageConfig({
    ...options.stage,
    settleMinutes:
      options.settleMs === 'auto' ? 'auto' : wholeUnits(options.settleMs ?? 60_000, 60_000, 'settle'),
    speedRetentionHours: wholeUnits(
      options.speedRetentionMs ?? STAGE_DEFAULTS.speedRetentionHours * 3_600_000,
      3_600_000,
      'speed retention',
    ),
  });
  const template = synthesizeTemplate(config);
  const names = new LocalNames(template);
  const functions = templateFunctions(template, names);
  const functionNamed = (name: string) => {
    const found = functions.find((fn) => fn.definition.name === name);
    if (found === undefined) throw new Error(`the template has no function ${name}`);
    return found;
  };

  await mkdir(join(dataDir, 'emulators'), { recursive: true });
  const apiKey = await apiKeyOf(dataDir, options.apiKey);
  const emulators = await startEmulators({
    ...(options.emulatorsInMemory ? {} : { dataDir: join(dataDir, 'emulators') }),
    dynamoPort: options.dynamoPort ?? 0,
    kinesisPort: options.kinesisPort ?? 0,
  });
  const tableName = functionNamed(speedFunction.name).environment.TABLE_NAME as string;
  const streamName = functionNamed(apiFunction.name).environment.STREAM_NAME as string;
  await createTable(emulators.dynamo, tableName).catch((error) =>
    ignoreExisting(error, ResourceInUseException),
  );
  await createStream(emulators.kinesis, streamName, streamShardsOf(template) ?? LOCAL_SHARDS).catch((error) =>
    ignoreExisting(error, StreamInUseException),
  );

  const bucketsDir = join(dataDir, 'buckets');
  const archiveLocation = archiveLocationOf(template, names);
  const archiveDir = bucketDir(bucketsDir, archiveLocation.bucket);
  await mkdir(archiveDir, { recursive: true });
  const engine = await DuckDbQueryEngine.open(catalogs);
  await engine.useArchive(archiveDir);

  let server: LocalApiServer | undefined;
  let batchRunner: LocalBatchRunner | undefined;
  let eventBridge: LocalEventBridge | undefined;
  let archiveReader: KinesisConsumer | undefined;
  const platform = localPlatform({
    dynamo: emulators.dynamo,
    kinesis: emulators.kinesis,
    bucketsDir,
    engine,
    downloadBaseUrl: (bucket, prefix) =>
      `${server?.url ?? ''}${DOWNLOADS}/${bucket}/${prefix.replace(/\/$/, '')}`,
    // The API is built before the runner: it asks for the runner only when a run starts.
    batchRunner: () => ({
      start: (input) => (batchRunner as LocalBatchRunner).start(input),
      describe: (id) => (batchRunner as LocalBatchRunner).describe(id),
    }),
    // S3's notifications to EventBridge: the archive marker records each archive object's day.
    objectCreated: (bucket, object) => (eventBridge as LocalEventBridge).objectCreated(bucket, object),
    // Firehose's metrics: what the local Firehose has delivered (asked for when a run plans).
    archiveCompleteness: () => ({
      completeThrough: () => localArchiveCompleteness(archiveReader as KinesisConsumer).completeThrough(),
    }),
  });
  const handlers = new Map(
    functions.map((fn) => [fn.definition.name, fn.definition.create({ ...fn.environment }, platform)]),
  );
  eventBridge = LocalEventBridge.fromTemplate(template, names, {
    functions: handlers as ReadonlyMap<string, (event: never) => Promise<unknown>>,
    // The marker's on-failure destination (a queue in AWS) is a file.
    onFailure: ({ target, event, error }) =>
      failureLog(join(dataDir, 'event-failures.ndjson'))({ target, event, error: error.message }),
  });
  const handlerOf = <H>(name: string) => handlers.get(name) as H;

  const speed = functionNamed(speedFunction.name);
  const speedConsumer = new KinesisConsumer({
    kinesis: emulators.kinesis,
    streamName,
    handler: handlerOf(speedFunction.name),
    settings: eventSourceOf(template, speed.logicalId),
    onFailure: failureLog(join(dataDir, 'speed-failures.ndjson')),
    checkpoints: new FileCheckpoints(join(dataDir, 'speed-checkpoints.json')),
  });
  const delivery = deliveryOf(template, names);
  // Firehose buffers (here for `archiveBufferMs`); the local poller hands it large batches, each one delivery.
  const archiveConsumer = new KinesisConsumer({
    kinesis: emulators.kinesis,
    streamName,
    handler: localFirehose(
      delivery,
      delivery.transform === null ? null : handlerOf<FirehoseTransform>(delivery.transform),
      platform.bucket(delivery.bucket),
    ),
    onFailure: failureLog(join(dataDir, 'archive-failures.ndjson')),
    checkpoints: new FileCheckpoints(join(dataDir, 'archive-checkpoints.json')),
    settings: { batchSize: 10_000, maximumBatchingWindowMs: options.archiveBufferMs ?? 1000 },
  });
  archiveReader = archiveConsumer;

  const runner = new LocalBatchRunner(
    {
      definition: stateMachineDefinitionOf(template, names),
      stateMachineArn: stateMachineArnOf(template, names),
      functions: handlers as ReadonlyMap<string, (input: never) => Promise<unknown>>,
      engine,
    },
    Date.now,
    (runId, error) => logger.error('local batch run failed', { runId, error }),
  );
  batchRunner = runner;
  const exportsBucket = functionNamed(apiFunction.name).environment;
  const apiServer = await startApiGateway(handlerOf(apiFunction.name), {
    template,
    apiKey,
    port: options.port ?? 3000,
    mounts: [
      {
        prefix: `${DOWNLOADS}/${exportsBucket.EXPORT_BUCKET}/${(exportsBucket.EXPORT_PREFIX as string).replace(/\/$/, '')}`,
        dir: join(
          bucketDir(bucketsDir, exportsBucket.EXPORT_BUCKET as string),
          exportsBucket.EXPORT_PREFIX as string,
        ),
      },
      ...(options.mounts ?? []),
      ...(options.dashboard ? DASHBOARD_MOUNTS : []),
    ],
  });
  speedConsumer.start();
  archiveConsumer.start();

  const startBatchRun = async () => {
    const runId = newRunId(Date.now());
    await runner.start({ runId });
    return runId;
  };
  const batchEveryMs = options.batchEveryMs ?? 5 * 60_000;
  const schedule =
    batchEveryMs > 0
      ? setInterval(() => {
          startBatchRun().catch((error: Error) =>
            logger.error('scheduled batch run did not start', { error }),
          );
        }, batchEveryMs)
      : undefined;

  server = apiServer;
  // The CLI finds the API here, whatever port it picked.
  await writeFile(join(dataDir, API_URL_FILE), `${apiServer.url}\n`);
  const demo =
    options.demoRate !== undefined && options.demoRate > 0
      ? startDemo({
          apiUrl: apiServer.url,
          apiKey,
          rate: options.demoRate,
          onError: (error) => logger.warn('demo post failed', { error }),
        })
      : null;
  return {
    apiUrl: apiServer.url,
    apiKey,
    // The page takes the key from its address, so the printed link works as it is.
    dashboardUrl: options.dashboard ? `${apiServer.url}/#key=${encodeURIComponent(apiKey)}` : null,
    demo,
    dataDir,
    archiveDir,
    emulators,
    tableName,
    streamName,
    template,
    batchRunner: runner,
    speedConsumer,
    archiveConsumer,
    server: apiServer,
    startBatchRun,
    async stop() {
      // The demo first: every event it posts is then accepted before the API closes.
      await demo?.stop();
      clearInterval(schedule);
      await apiServer.close();
      await Promise.all([speedConsumer.stop(), archiveConsumer.stop()]);
      await runner.idle();
      engine.close();
      await emulators.close();
    },
  };
}
