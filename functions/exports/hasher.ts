import { createHash } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3ObjectCreatedNotificationEvent } from 'aws-lambda';
import { z } from 'zod';
import { DynamoExportJobs, type ExportFile } from '../adapters/exports';
import type { ObjectStore } from '../adapters/object-store';
import { requiredVariable } from '../commons/config';
import { defineFunction } from '../commons/function';
import { SERVICES } from '../commons/metrics';
import { createPowertools } from '../commons/powertools';

/** sha256 (hex) and size of an object, streamed through the hash: an export's files can be many GB. */
export async function hashObject(store: ObjectStore, key: string): Promise<Omit<ExportFile, 'file'>> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of store.stream(key)) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * Records the sha256 of an object written under the exports prefix: S3 sends an "Object Created" event
 * to EventBridge for each file an export writes (an UNLOAD's Parquet files, a CSV query's result), and a
 * rule invokes this with it. Once per file, as it is written, off the request path: `GET /exports/{id}`
 * only reads these records. The first record of a key is kept.
 */
export async function hashExportObject(
  jobs: DynamoExportJobs,
  bucket: ObjectStore,
  logger: Logger,
  event: S3ObjectCreatedNotificationEvent,
  now: () => number,
): Promise<void> {
  const key = event.detail.object.key;
  const hash = await hashObject(bucket, key);
  if (!(await jobs.recordFileHash(key, hash, now())))
    logger.info('export object hashed before: its first hash is kept', { key });
}

/** The export hasher: an EventBridge rule's target for the exports bucket's "Object Created" events. */
export const exportHasherFunction = defineFunction({
  name: 'export-hasher',
  handlerFile: 'functions/exports/handler.ts',
  // It completes what the API's exports started.
  service: SERVICES.api,
  environment: {
    TABLE_NAME: requiredVariable('TABLE_NAME', 'the DynamoDB table'),
    EXPORT_BUCKET: requiredVariable('EXPORT_BUCKET', 'the bucket exports are written to'),
    EXPORTS_RETENTION_DAYS: z.coerce.number().int().positive(),
  },
  build: (config, platform) => {
    const { logger } = createPowertools(config);
    const jobs = new DynamoExportJobs(
      platform.dynamo,
      config.TABLE_NAME,
      config.EXPORTS_RETENTION_DAYS * 86_400_000,
    );
    const bucket = platform.bucket(config.EXPORT_BUCKET);
    return (event: S3ObjectCreatedNotificationEvent) =>
      hashExportObject(jobs, bucket, logger, event, platform.now);
  },
});
