import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { ResourceInUseException as StreamInUseException } from '@aws-sdk/client-kinesis';
import { orderEvents } from '../events';
import { DuckDbQueryEngine } from '../functions/adapters/duckdb';
import { DuckDbExportEngine } from '../functions/adapters/duckdb-export';
import { DynamoBatchStore } from '../functions/adapters/dynamo-batch-store';
import { DynamoSpeedStore } from '../functions/adapters/dynamo-speed-store';
import { DynamoExportJobs } from '../functions/adapters/exports';
import { KinesisEventSink } from '../functions/adapters/kinesis-events';
import { FileObjectStore } from '../functions/adapters/object-store';
import { createApi } from '../functions/api/app';
import type { ApiDeps } from '../functions/api/deps';
import type { BatchDeps } from '../functions/batch/deps';
import { newRunId } from '../functions/batch/plan';
import type { ViewDefinition } from '../functions/core';
import { SpeedProcessor } from '../functions/speed/processor';
import { Quarantine } from '../functions/speed/quarantine';
import { views as defaultViews } from '../views';
import { type LocalApiServer, type StaticMount, startApiServer } from './api-server';
import { localArchiver } from './archiver';
import { LocalBatchRunner } from './batch-runner';
import { type Demo, startDemo } from './demo';
import { createStream, createTable, type Emulators, startEmulators } from './emulators';
import { type CheckpointStore, type FailedBatch, KinesisConsumer } from './kinesis-consumer';

export const TABLE_NAME = 'driftless';
export const STREAM_NAME = 'driftless-events';
/** Shards of the local stream: more than one, so per-shard ordering and checkpoints are exercised. */
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
  /** How far the watermark trails now. @default 1 minute */
  readonly settleMs?: number;
  /** Speed items live this long past their bucket. @default 72 hours */
  readonly speedRetentionMs?: number;
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
  readonly views?: readonly ViewDefinition[];
  readonly logger?: Logger;
}

export interface Runtime {
  readonly apiUrl: string;
  /** The dashboard's address, when it is served. */
  readonly dashboardUrl: string | null;
  /** The demo generator, when it runs. */
  readonly demo: Demo | null;
  readonly dataDir: string;
  readonly emulators: Emulators;
  readonly tableName: string;
  readonly streamName: string;
  readonly batchRunner: LocalBatchRunner;
  readonly speedConsumer: KinesisConsumer;
  readonly archiveConsumer: KinesisConsumer;
  readonly api: ApiDeps;
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

/** Failed batches go where the on-failure destination would send them: a file, one JSON line each. */
const failureLog = (file: string) => async (failure: FailedBatch) => {
  await writeFile(file, `${JSON.stringify({ ...failure, at: new Date().toISOString() })}\n`, { flag: 'a' });
};

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
    kinesis: `${runtime.emulators.kinesisEndpoint} (stream ${runtime.streamName})`,
    dynamodb: `${runtime.emulators.dynamoEndpoint} (table ${runtime.tableName})`,
    data: runtime.dataDir,
  };
}

const ignoreExisting = (error: unknown, type: new (...args: never[]) => Error) => {
  if (!(error instanceof type)) throw error;
};

/**
 * The whole pipeline in one process: dynalite and kinesalite, the Kinesis consumers feeding the speed
 * handler's processor and the archiver, the batch state machine on a schedule, and the API. The code
 * is the Lambda code; only the adapters' endpoints differ.
 */
export async function startRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const dataDir = resolve(options.dataDir ?? '.driftless');
  const views = options.views ?? defaultViews;
  if (options.metrics !== true) process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const logger = options.logger ?? new Logger({ serviceName: 'driftless-local' });
  const metrics = new Metrics({ namespace: 'Driftless', serviceName: 'driftless-local' });
  await mkdir(join(dataDir, 'emulators'), { recursive: true });
  const emulators = await startEmulators({
    ...(options.emulatorsInMemory ? {} : { dataDir: join(dataDir, 'emulators') }),
    dynamoPort: options.dynamoPort ?? 0,
    kinesisPort: options.kinesisPort ?? 0,
  });
  await createTable(emulators.dynamo, TABLE_NAME).catch((error) =>
    ignoreExisting(error, ResourceInUseException),
  );
  await createStream(emulators.kinesis, STREAM_NAME, LOCAL_SHARDS).catch((error) =>
    ignoreExisting(error, StreamInUseException),
  );

  const archiveDir = join(dataDir, 'archive');
  const exportsDir = join(dataDir, 'exports');
  await mkdir(archiveDir, { recursive: true });
  await mkdir(exportsDir, { recursive: true });
  const archive = new FileObjectStore(archiveDir);
  const speedRetentionMs = options.speedRetentionMs ?? 72 * 3_600_000;
  const speedStore = new DynamoSpeedStore(emulators.dynamo, TABLE_NAME);
  const batchStore = new DynamoBatchStore(emulators.dynamo, TABLE_NAME);
  const engine = await DuckDbQueryEngine.open(orderEvents);
  await engine.useArchive(archiveDir);

  const quarantine = new Quarantine(new FileObjectStore(join(dataDir, 'quarantine')));
  const processor = new SpeedProcessor({
    catalog: orderEvents,
    views,
    store: speedStore,
    quarantine,
    logger,
    metrics,
    retentionMs: speedRetentionMs,
  });
  const speedConsumer = new KinesisConsumer({
    kinesis: emulators.kinesis,
    streamName: STREAM_NAME,
    handler: (event) => processor.process(event),
    onFailure: failureLog(join(dataDir, 'speed-failures.ndjson')),
    checkpoints: new FileCheckpoints(join(dataDir, 'speed-checkpoints.json')),
  });
  // Firehose buffers; the local archiver writes one file per batch it is given, so batches are large.
  const archiveConsumer = new KinesisConsumer({
    kinesis: emulators.kinesis,
    streamName: STREAM_NAME,
    handler: localArchiver(orderEvents, archive),
    onFailure: failureLog(join(dataDir, 'archive-failures.ndjson')),
    checkpoints: new FileCheckpoints(join(dataDir, 'archive-checkpoints.json')),
    settings: { batchSize: 10_000, maximumBatchingWindowMs: 1000 },
  });

  const batchDeps: BatchDeps = {
    views,
    store: batchStore,
    speed: speedStore,
    archive,
    engine,
    settleMs: options.settleMs ?? 60_000,
    graceMs: 10 * 60_000,
    logger,
    metrics,
    now: Date.now,
  };
  const batchRunner = new LocalBatchRunner(batchDeps);
  let server: LocalApiServer | undefined;
  const api: ApiDeps = {
    catalog: orderEvents,
    views,
    batchStore,
    speedStore,
    speedRetentionMs,
    events: new KinesisEventSink(emulators.kinesis, STREAM_NAME),
    batchRuns: batchRunner,
    exportJobs: new DynamoExportJobs(emulators.dynamo, TABLE_NAME),
    exports: new DuckDbExportEngine(engine, exportsDir, () => `${server?.url ?? ''}/downloads/exports`),
    quarantine,
    logger,
    now: Date.now,
  };
  server = await startApiServer(createApi(api), {
    port: options.port ?? 3000,
    mounts: [
      { prefix: '/downloads/exports', dir: exportsDir },
      ...(options.mounts ?? []),
      ...(options.dashboard ? DASHBOARD_MOUNTS : []),
    ],
  });
  speedConsumer.start();
  archiveConsumer.start();

  const startBatchRun = async () => {
    const runId = newRunId(Date.now());
    await batchRunner.start({ runId });
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

  const apiServer = server;
  const demo =
    options.demoRate !== undefined && options.demoRate > 0
      ? startDemo({
          apiUrl: apiServer.url,
          rate: options.demoRate,
          onError: (error) => logger.warn('demo post failed', { error }),
        })
      : null;
  return {
    apiUrl: apiServer.url,
    dashboardUrl: options.dashboard ? `${apiServer.url}/` : null,
    demo,
    dataDir,
    emulators,
    tableName: TABLE_NAME,
    streamName: STREAM_NAME,
    batchRunner,
    speedConsumer,
    archiveConsumer,
    api,
    server: apiServer,
    startBatchRun,
    async stop() {
      // The demo first: every event it posts is then accepted before the API closes.
      await demo?.stop();
      clearInterval(schedule);
      await apiServer.close();
      await Promise.all([speedConsumer.stop(), archiveConsumer.stop()]);
      await batchRunner.idle();
      engine.close();
      await emulators.close();
    },
  };
}
