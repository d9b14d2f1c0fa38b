import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { orderEvents } from '../events';
import { DuckDbQueryEngine } from '../functions/adapters/duckdb';
import { DynamoBatchStore } from '../functions/adapters/dynamo-batch-store';
import { DynamoSpeedStore } from '../functions/adapters/dynamo-speed-store';
import { FileObjectStore } from '../functions/adapters/object-store';
import { transformRecords } from '../functions/archive/firehose-transform';
import { daysOf } from '../functions/batch/days';
import type { BatchDeps } from '../functions/batch/deps';
import type { RunPlan } from '../functions/batch/plan';
import { batchTargetOver, runBatchLocally } from '../local/batch-runner';
import { createTable, startEmulators } from '../local/emulators';
import { localFirehose } from '../local/firehose';
import { deliveryOf, LocalNames, synthesizeTemplate } from '../local/template';
import { views } from '../views';

const DAY = 86_400_000;

/**
 * A full batch run over N events in the local archive (Parquet, as Firehose with conversion would
 * write), then one late event and the incremental run that follows. Bytes read are the sizes of the
 * archive files of the days each run planned.
 */
export async function benchBatch(options: { events: number; days: number; dataDir: string }): Promise<void> {
  const log = (line: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'batch', ...line }));
  await rm(options.dataDir, { recursive: true, force: true });
  await mkdir(options.dataDir, { recursive: true });
  const now = Date.now();
  const today = now - (now % DAY);
  const start = today - options.days * DAY;

  // Fill: DuckDB writes one Parquet file per event-time day.
  const fillStarted = performance.now();
  const writer = await DuckDbQueryEngine.open(orderEvents);
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
    ) TO '${join(options.dataDir, 'events')}' (FORMAT parquet, PARTITION_BY (dt), OVERWRITE_OR_IGNORE)`);
  writer.close();
  log({
    phase: 'fill',
    events: options.events,
    days: options.days,
    seconds: (performance.now() - fillStarted) / 1000,
  });

  const template = synthesizeTemplate();
  const emulators = await startEmulators();
  await createTable(emulators.dynamo, 'bench');
  const archive = new FileObjectStore(options.dataDir);
  const engine = await DuckDbQueryEngine.open(orderEvents);
  await engine.useArchive(options.dataDir);
  const deps: BatchDeps = {
    views,
    store: new DynamoBatchStore(emulators.dynamo, 'bench'),
    speed: new DynamoSpeedStore(emulators.dynamo, 'bench'),
    archive,
    engine,
    settleMs: 0,
    graceMs: 60 * 60_000,
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'Bench' }),
    now: Date.now,
  };
  const bytesOf = async (days: ReadonlySet<string>) =>
    (await archive.list('events/'))
      .filter((object) => days.has(object.key.slice('events/dt='.length, 'events/dt='.length + 10)))
      .reduce((total, object) => total + object.size, 0);
  const timedRun = async (phase: string) => {
    let planned: RunPlan | undefined;
    const started = performance.now();
    await runBatchLocally(batchTargetOver(deps, template), { onPlan: (plan) => (planned = plan) });
    const seconds = (performance.now() - started) / 1000;
    const days = new Set(planned?.views.flatMap((view) => daysOf(view.dayRanges)) ?? []);
    const bytesRead = await bytesOf(days);
    log({ phase, seconds, daysRead: days.size, bytesRead });
    return { seconds, bytesRead };
  };

  const full = await timedRun('full');
  const late = { id: 'late-1', ts: start + DAY + 3_600_000, country: 'C1', amount: 4_200, status: 'paid' };
  await localFirehose(
    deliveryOf(template, new LocalNames(template)),
    transformRecords,
    archive,
  )({
    Records: [
      {
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: late.id,
          sequenceNumber: '1',
          data: Buffer.from(JSON.stringify(late)).toString('base64'),
          approximateArrivalTimestamp: Date.now() / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: 'shardId-000000000000:1',
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/bench',
        awsRegion: 'us-east-1',
        eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/bench',
      },
    ],
  });
  const incremental = await timedRun('incremental');
  engine.close();
  await emulators.close();
  log({
    events: options.events,
    days: options.days,
    fullSeconds: Number(full.seconds.toFixed(2)),
    incrementalSeconds: Number(incremental.seconds.toFixed(2)),
    fullBytesRead: full.bytesRead,
    incrementalBytesRead: incremental.bytesRead,
    incrementalShareOfFull: Number((incremental.bytesRead / full.bytesRead).toFixed(4)),
  });
}
