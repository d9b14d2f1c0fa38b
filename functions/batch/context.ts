import { AthenaClient } from '@aws-sdk/client-athena';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { views } from '../../views';
import { AthenaQueryEngine } from '../adapters/athena';
import { DynamoBatchStore } from '../adapters/dynamo-batch-store';
import { DynamoSpeedStore } from '../adapters/dynamo-speed-store';
import { S3ObjectStore } from '../adapters/object-store';
import { readConfig } from '../commons/config';
import { logger, metrics } from '../commons/powertools';
import type { BatchDeps } from './deps';

const batchEnvironment = z.object({
  TABLE_NAME: z.string({ error: 'TABLE_NAME is required: the DynamoDB table' }).min(1),
  ARCHIVE_BUCKET: z.string({ error: 'ARCHIVE_BUCKET is required: the raw archive bucket' }).min(1),
  ATHENA_WORKGROUP: z.string({ error: 'ATHENA_WORKGROUP is required' }).min(1),
  GLUE_DATABASE: z.string({ error: 'GLUE_DATABASE is required' }).min(1),
  SETTLE_MINUTES: z.coerce.number().int().nonnegative().default(15),
  GRACE_MINUTES: z.coerce.number().int().nonnegative().default(180),
});

let deps: BatchDeps | undefined;

/** The batch steps' AWS dependencies, from the environment, made once per container. */
export async function batchContext(): Promise<BatchDeps> {
  if (deps !== undefined) return deps;
  const config = readConfig(batchEnvironment);
  const dynamo = new DynamoDBClient({});
  deps = {
    views,
    store: new DynamoBatchStore(dynamo, config.TABLE_NAME),
    speed: new DynamoSpeedStore(dynamo, config.TABLE_NAME),
    archive: new S3ObjectStore(new S3Client({}), config.ARCHIVE_BUCKET),
    engine: new AthenaQueryEngine(new AthenaClient({}), {
      workGroup: config.ATHENA_WORKGROUP,
      database: config.GLUE_DATABASE,
    }),
    settleMs: config.SETTLE_MINUTES * 60_000,
    graceMs: config.GRACE_MINUTES * 60_000,
    logger,
    metrics,
    now: Date.now,
  };
  return deps;
}
