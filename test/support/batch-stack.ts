import { rm } from 'node:fs/promises';
import { catalogs, orderEvents } from '../../events';
import { DuckDbQueryEngine } from '../../functions/adapters/duckdb';
import { archiveTransformFunction } from '../../functions/archive/firehose-transform';
import { batchDeps, batchFunctions } from '../../functions/batch/context';
import type { BatchDeps } from '../../functions/batch/deps';
import type { Platform } from '../../functions/commons/platform';
import type { ViewDefinition } from '../../functions/core';
import { stageConfigSchema } from '../../lib/config';
import { batchTargetOver, type LocalRunOptions, runBatchLocally } from '../../local/batch-runner';
import { LocalEventBridge } from '../../local/eventbridge';
import { localFirehose } from '../../local/firehose';
import { bucketDir, localPlatform } from '../../local/platform';
import {
  archiveLocationOf,
  buildFunction,
  type CloudFormationTemplate,
  deliveryOf,
  environmentOf,
  LocalNames,
  synthesizeTemplate,
} from '../../local/template';
import { tempDir } from './archive';
import { withType } from './events';
import { type Fixture, quietLogger, quietMetrics } from './fixture';
import { kinesisEvent, kinesisRecord, sequenceNumber } from './kinesis-factory';

/** An order as the tests write them: the demo catalog's fields. */
export type Order = {
  id: string;
  ts: number;
  country?: string;
  amount: number;
  discount?: number;
  status: string;
};

let sequence = 0;

/** The stack as synthesized for a stage whose watermark trails now by nothing. */
export const settledNowTemplate = synthesizeTemplate(stageConfigSchema.parse({ settleMinutes: 0 }));

/** Runs that template's state machine over batch functions with these dependencies; retries at once. */
export const runBatch = (deps: BatchDeps, options?: LocalRunOptions) =>
  runBatchLocally(batchTargetOver(deps, settledNowTemplate), { retryIntervalMs: 0, ...options });

/**
 * The batch layer over a fresh table and a fresh archive folder, as the template wires it: the batch
 * functions' dependencies built from the environment the template gives them, DuckDB over the archive,
 * and events reaching the archive through the local Firehose and the transform function, each archive
 * object's "Object Created" event reaching every function the template's rules invoke (the archive
 * marker). `observe` wraps the platform every function gets (to count listings, say).
 */
export async function startBatchStack(
  fixture: Fixture,
  template: CloudFormationTemplate,
  options: {
    readonly name: string;
    readonly views: readonly ViewDefinition[];
    readonly observe?: (platform: Platform, archiveBucket: string) => Platform;
    readonly deps?: Partial<BatchDeps>;
  },
) {
  const table = await fixture.newTable();
  const dir = await tempDir(options.name);
  const names = new LocalNames(template, { table });
  const engine = await DuckDbQueryEngine.open(catalogs);
  const archiveBucket = archiveLocationOf(template, names).bucket;
  let eventBridge: LocalEventBridge | undefined;
  const local = localPlatform({
    dynamo: fixture.dynamo,
    kinesis: fixture.kinesis,
    bucketsDir: dir,
    engine,
    objectCreated: (bucket, object) => (eventBridge as LocalEventBridge).objectCreated(bucket, object),
  });
  const platform = options.observe?.(local, archiveBucket) ?? local;
  eventBridge = LocalEventBridge.withTemplateTargets(template, names, platform);
  await engine.useArchive(bucketDir(dir, archiveBucket));
  const config = batchFunctions.plan.config(environmentOf(template, batchFunctions.plan, names));
  const deps: BatchDeps = {
    ...batchDeps(config, platform),
    views: options.views,
    logger: quietLogger(),
    metrics: quietMetrics(),
    ...options.deps,
  };
  const delivery = deliveryOf(template, names);
  const firehose = localFirehose(
    delivery,
    buildFunction(template, archiveTransformFunction, platform, names),
    platform.bucket(delivery.bucket),
  );
  /**
   * Sends orders (or raw lines, or events of another type) through the stream's stand-in to Firehose, one
   * record each: an event is sent with `type: 'order'` unless it names another type.
   */
  const send = (orders: readonly (Order | object | string)[]) =>
    firehose(
      kinesisEvent(
        orders.map((order) =>
          kinesisRecord({
            shardId: 'shardId-000000000000',
            sequenceNumber: sequenceNumber(sequence++),
            data: typeof order === 'string' ? order : JSON.stringify(withType(orderEvents, order)),
          }),
        ),
      ),
    );
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    engine.close();
    await rm(dir, { recursive: true, force: true });
  };
  return { table, names, dir, platform, eventBridge, archiveBucket, deps, firehose, send, close };
}
