import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { catalogs, orderEvents } from '../events';
import { DuckDbQueryEngine } from '../functions/adapters/duckdb';
import { transformRecords } from '../functions/archive/firehose-transform';
import { batchDeps, batchFunctions } from '../functions/batch/context';
import type { BatchDeps } from '../functions/batch/deps';
import type { LoadInput } from '../functions/batch/load';
import { archiveCatalogPrefix, archiveDayOfKey } from '../functions/commons/layout';
import { daysInRanges, dedupeReadRanges } from '../functions/core';
import { BATCH_STATES } from '../lib/batch-layer';
import { batchTargetOver, runBatchLocally } from '../local/batch-runner';
import { createTable, startEmulators } from '../local/emulators';
import { LocalEventBridge } from '../local/eventbridge';
import { localFirehose } from '../local/firehose';
import { lambdaKinesisRecord } from '../local/lambda-kinesis-record';
import { bucketDir, localPlatform, withListingsObserved } from '../local/platform';
import {
  archiveLocationOf,
  deliveryOf,
  environmentOf,
  LocalNames,
  synthesizeTemplate,
} from '../local/template';
import { views } from '../views';

const DAY = 86_400_000;
const TABLE = 'bench';

/** The order archive's files, with their day and size: what the bench measures, not what a run lists. */
async function archiveFiles(dir: string): Promise<{ key: string; day: string; size: number }[]> {
  const entries = await readdir(join(dir, archiveCatalogPrefix(orderEvents.name)), {
    recursive: true,
    withFileTypes: true,
  });
  return Promise.all(
    entries
      .filter((entry) => entry.isFile())
      .map(async (entry) => {
        const path = join(entry.parentPath, entry.name);
        const key = relative(dir, path).split(sep).join('/');
        return {
          key,
          day: archiveDayOfKey(key)?.day ?? '',
          size: (await stat(path)).size,
        };
      }),
  );
}

/**
 * A full batch run over N events in the local archive (Parquet, as Firehose with conversion would
 * write), then one late event and the incremental run that follows. The runs are the synthesized state
 * machine over the batch functions as their factory builds them, and each archive object reaches the
 * archive marker as S3 announces it to EventBridge (the filled files are announced once written, as
 * their PUTs would have been). Bytes read are the sizes of the archive files of the days each run's
 * loads read; objects listed are what the run listed of the archive bucket.
 */
export async function benchBatch(options: { events: number; days: number; dataDir: string }): Promise<void> {
  const log = (line: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'batch', ...line }));
  await rm(options.dataDir, { recursive: true, force: true });
  const template = synthesizeTemplate();
  const names = new LocalNames(template, { table: TABLE });
  const bucketsDir = join(options.dataDir, 'buckets');
  const archiveBucket = archiveLocationOf(template, names).bucket;
  const archiveDir = bucketDir(bucketsDir, archiveBucket);
  await mkdir(archiveDir, { recursive: true });
  const now = Date.now();
  const today = now - (now % DAY);
  const start = today - options.days * DAY;

  // Fill: DuckDB writes one Parquet file per event-time day.
  const fillStarted = performance.now();
  const writer = await DuckDbQueryEngine.open(catalogs);
  const spacing = (options.days * DAY) / options.events;
  await writer.query(`COPY (
      SELECT 'order-' || i AS id,
        CAST(${start} + floor(i * ${spacing}) AS BIGINT) AS ts,
        'customer-' || (i % 5000) AS customer,
        'C' || (i % 20) AS country,
        'product-' || (i % 40) AS product,
        CAST(100 + (i % 9000) AS BIGINT) AS amount,
        CASE WHEN i % 5 = 0 THEN NULL ELSE CAST(i % 100 AS BIGINT) END AS discount,
        CASE i % 10 WHEN 0 THEN 'refunded' WHEN 1 THEN 'pending' ELSE 'paid' END AS status,
        strftime(make_timestamp(CAST(${start} + floor(i * ${spacing}) AS BIGINT) * 1000), '%Y-%m-%d') AS dt
      FROM range(${options.events}) AS t(i)
    ) TO '${join(archiveDir, archiveCatalogPrefix(orderEvents.name))}' (FORMAT parquet, PARTITION_BY (dt), OVERWRITE_OR_IGNORE)`);
  writer.close();

  const emulators = await startEmulators();
  await createTable(emulators.dynamo, TABLE);
  const engine = await DuckDbQueryEngine.open(catalogs);
  await engine.useArchive(archiveDir);
  let eventBridge: LocalEventBridge | undefined;
  let objectsListed = 0;
  const base = localPlatform({
    dynamo: emulators.dynamo,
    kinesis: emulators.kinesis,
    bucketsDir,
    engine,
    objectCreated: (bucket, object) => (eventBridge as LocalEventBridge).objectCreated(bucket, object),
  });
  // Counts what anything lists of the archive bucket: a run's plan used to list every object.
  const platform = withListingsObserved(base, archiveBucket, (_prefix, listed) => {
    objectsListed += listed.length;
  });
  eventBridge = LocalEventBridge.withTemplateTargets(template, names, platform);
  const filled = await archiveFiles(archiveDir);
  for (const file of filled)
    await eventBridge.objectCreated(archiveBucket, {
      key: file.key,
      body: await readFile(join(archiveDir, ...file.key.split('/'))),
    });
  log({
    phase: 'fill',
    events: options.events,
    days: options.days,
    objects: filled.length,
    seconds: (performance.now() - fillStarted) / 1000,
  });

  const config = batchFunctions.plan.config(environmentOf(template, batchFunctions.plan, names));
  const deps: BatchDeps = {
    ...batchDeps(config, platform),
    views,
    settleMs: 0,
    graceMs: 60 * 60_000,
    rollbackRetentionMs: 7 * 86_400_000,
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'Bench' }),
  };
  const timedRun = async (phase: string) => {
    const loads: LoadInput[] = [];
    objectsListed = 0;
    const started = performance.now();
    await runBatchLocally(batchTargetOver(deps, template, names), {
      onTask: (state, input) => {
        if (state === BATCH_STATES.load) loads.push(input as LoadInput);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    // What the queries scan: each load's days and, as context for deduplication, the horizon's days before.
    const days = new Set(
      loads.flatMap((load) =>
        daysInRanges(dedupeReadRanges(load.view.dayRanges, orderEvents.dedupeHorizonDays)),
      ),
    );
    const bytesRead = (await archiveFiles(archiveDir))
      .filter((file) => days.has(file.day))
      .reduce((total, file) => total + file.size, 0);
    const line = { phase, seconds, loads: loads.length, daysRead: days.size, bytesRead, objectsListed };
    log(line);
    return line;
  };

  const full = await timedRun('full');
  const late = {
    type: 'order',
    id: 'late-1',
    ts: start + DAY + 3_600_000,
    country: 'C1',
    amount: 4_200,
    status: 'paid',
  };
  await localFirehose(
    deliveryOf(template, names),
    transformRecords,
    platform.bucket(archiveBucket),
  )({
    Records: [
      lambdaKinesisRecord(
        {
          streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/bench',
          roleArn: 'arn:aws:iam::000000000000:role/bench',
        },
        {
          shardId: 'shardId-000000000000',
          sequenceNumber: '1',
          partitionKey: late.id,
          data: Buffer.from(JSON.stringify(late)),
          arrivalMs: Date.now(),
        },
      ),
    ],
  });
  const incremental = await timedRun('incremental');
  engine.close();
  await emulators.close();
  log({
    events: options.events,
    days: options.days,
    objects: filled.length + 1,
    fullSeconds: Number(full.seconds.toFixed(2)),
    incrementalSeconds: Number(incremental.seconds.toFixed(2)),
    fullLoads: full.loads,
    fullBytesRead: full.bytesRead,
    incrementalDaysRead: incremental.daysRead,
    incrementalBytesRead: incremental.bytesRead,
    objectsListed: incremental.objectsListed,
    incrementalShareOfFull: Number((incremental.bytesRead / full.bytesRead).toFixed(4)),
  });
}
