import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { orderEvents } from '../../events';
import { views } from '../../views';
import { DynamoSpeedStore } from '../adapters/dynamo-speed-store';
import { FileObjectStore, S3ObjectStore } from '../adapters/object-store';
import { logger, metrics } from '../commons/powertools';
import { loadSpeedConfig } from './config';
import { SpeedProcessor } from './processor';
import { Quarantine } from './quarantine';

// Endpoints come from the SDK's own variables (AWS_ENDPOINT_URL_DYNAMODB locally), so this file
// runs unchanged in Lambda and against the local emulators.
const config = loadSpeedConfig();
const quarantineStore =
  config.QUARANTINE_BUCKET !== undefined
    ? new S3ObjectStore(new S3Client({}), config.QUARANTINE_BUCKET)
    : new FileObjectStore(config.QUARANTINE_DIR as string);

const processor = new SpeedProcessor({
  catalog: orderEvents,
  views,
  store: new DynamoSpeedStore(new DynamoDBClient({}), config.TABLE_NAME),
  quarantine: new Quarantine(quarantineStore),
  logger,
  metrics,
  retentionMs: config.SPEED_RETENTION_HOURS * 3_600_000,
});

export const handler = (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> =>
  processor.process(event);
