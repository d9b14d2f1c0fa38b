import { AthenaClient } from '@aws-sdk/client-athena';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { orderEvents } from '../../events';
import { views } from '../../views';
import { AthenaExportEngine } from '../adapters/athena-export';
import { StepFunctionsBatchRunner } from '../adapters/batch-runner';
import { DynamoBatchStore } from '../adapters/dynamo-batch-store';
import { DynamoSpeedStore } from '../adapters/dynamo-speed-store';
import { DynamoExportJobs } from '../adapters/exports';
import { KinesisEventSink } from '../adapters/kinesis-events';
import { S3ObjectStore } from '../adapters/object-store';
import { readConfig } from '../commons/config';
import { logger } from '../commons/powertools';
import { Quarantine } from '../speed/quarantine';
import type { ApiDeps } from './deps';

const required = (name: string, what: string) => z.string({ error: `${name} is required: ${what}` }).min(1);

const apiEnvironment = z.object({
  TABLE_NAME: required('TABLE_NAME', 'the DynamoDB table'),
  STREAM_NAME: required('STREAM_NAME', 'the Kinesis stream events are put on'),
  STATE_MACHINE_ARN: required('STATE_MACHINE_ARN', 'the batch state machine'),
  ATHENA_WORKGROUP: required('ATHENA_WORKGROUP', 'the Athena work group exports run in'),
  GLUE_DATABASE: required('GLUE_DATABASE', 'the Glue database of raw_events'),
  EXPORT_BUCKET: required('EXPORT_BUCKET', 'the bucket Parquet exports are unloaded to'),
  EXPORT_PREFIX: z.string().default('exports/'),
  QUARANTINE_BUCKET: required('QUARANTINE_BUCKET', 'the bucket of quarantined records'),
  SPEED_RETENTION_HOURS: z.coerce.number().int().positive().default(72),
});

/** The API's AWS dependencies, from the environment, read once per container. */
export function apiContext(env: NodeJS.ProcessEnv = process.env): ApiDeps {
  const config = readConfig(apiEnvironment, env);
  const dynamo = new DynamoDBClient({});
  const s3 = new S3Client({});
  const batchStore = new DynamoBatchStore(dynamo, config.TABLE_NAME);
  return {
    catalog: orderEvents,
    views,
    batchStore,
    speedStore: new DynamoSpeedStore(dynamo, config.TABLE_NAME),
    speedRetentionMs: config.SPEED_RETENTION_HOURS * 3_600_000,
    events: new KinesisEventSink(new KinesisClient({}), config.STREAM_NAME),
    batchRuns: new StepFunctionsBatchRunner(new SFNClient({}), config.STATE_MACHINE_ARN, (runId) =>
      batchStore.runExecution(runId),
    ),
    exportJobs: new DynamoExportJobs(dynamo, config.TABLE_NAME),
    exports: new AthenaExportEngine(new AthenaClient({}), s3, {
      workGroup: config.ATHENA_WORKGROUP,
      database: config.GLUE_DATABASE,
      bucket: config.EXPORT_BUCKET,
      prefix: config.EXPORT_PREFIX,
    }),
    quarantine: new Quarantine(new S3ObjectStore(s3, config.QUARANTINE_BUCKET)),
    logger,
    now: Date.now,
  };
}
