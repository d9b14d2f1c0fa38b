import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { z } from 'zod';
import { catalogs } from '../../events';
import { views } from '../../views';
import { DynamoBatchStore } from '../adapters/dynamo-batch-store';
import { DynamoSpeedStore } from '../adapters/dynamo-speed-store';
import { requiredVariable } from '../commons/config';
import { defineFunction } from '../commons/function';
import { SERVICES } from '../commons/metrics';
import { createPowertools } from '../commons/powertools';
import { checkViewCatalogs } from '../core';
import { registryOver } from './counted-views';
import { latenessRecorderOver } from './lateness';
import { SpeedProcessor } from './processor';
import { Quarantine } from './quarantine';

/** The speed function: Kinesis batches in, speed items and quarantined records out. */
export const speedFunction = defineFunction({
  name: 'speed',
  handlerFile: 'functions/speed/handler.ts',
  service: SERVICES.speed,
  environment: {
    TABLE_NAME: requiredVariable('TABLE_NAME', 'the DynamoDB table of speed items'),
    QUARANTINE_BUCKET: requiredVariable('QUARANTINE_BUCKET', 'where invalid records go'),
    /** How long speed items live past their bucket (TTL); the batch layer must overtake them first. */
    SPEED_RETENTION_HOURS: z.coerce.number().int().positive(),
    /** How long a replaced manifest can be rolled back to: the version a switch replaced is counted as long. */
    ROLLBACK_RETENTION_DAYS: z.coerce.number().int().nonnegative(),
  },
  build: (config, platform) => {
    checkViewCatalogs(views, catalogs);
    const { logger, metrics } = createPowertools(config);
    const batchStore = new DynamoBatchStore(platform.dynamo, config.TABLE_NAME, catalogs);
    const processor = new SpeedProcessor({
      catalogs,
      views,
      store: new DynamoSpeedStore(platform.dynamo, config.TABLE_NAME),
      quarantine: new Quarantine(platform.bucket(config.QUARANTINE_BUCKET)),
      logger,
      metrics,
      retentionMs: config.SPEED_RETENTION_HOURS * 3_600_000,
      now: platform.now,
      registry: registryOver(batchStore, {
        rollbackRetentionMs: config.ROLLBACK_RETENTION_DAYS * 86_400_000,
      }),
      lateness: latenessRecorderOver(batchStore, logger, platform.now),
    });
    return (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => processor.process(event);
  },
});
