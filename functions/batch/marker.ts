import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3ObjectCreatedNotificationEvent } from 'aws-lambda';
import { catalogs } from '../../events';
import { DynamoBatchStore } from '../adapters/dynamo-batch-store';
import { requiredVariable } from '../commons/config';
import { defineFunction } from '../commons/function';
import { archiveDayOfKey } from '../commons/layout';
import { SERVICES } from '../commons/metrics';
import { createPowertools } from '../commons/powertools';

/**
 * Records, for the batch layer's plan, that the archive received an object of its catalog and day (the
 * folders it is filed under, `events/<catalog>/dt=<day>/`): S3 sends an
 * "Object Created" event to EventBridge for each object Firehose delivers, and a rule invokes this with
 * it. The marking time is this function's clock, not the event's: a plan reads the days marked since
 * the last run started, so an event delivered late is still found by the next run.
 */
export async function markArchiveObject(
  store: DynamoBatchStore,
  logger: Logger,
  event: S3ObjectCreatedNotificationEvent,
  now: number,
): Promise<void> {
  const key = event.detail.object.key;
  const filed = archiveDayOfKey(key);
  if (filed === null) {
    // Not an event object (the rule filters on the prefix; the error prefix has no day folder), or one
    // of the layout before several catalogs (`events/dt=.../`), which no table reads (docs/deploy.md).
    logger.warn('archive object without a catalog and event day: not marked', { key });
    return;
  }
  const objectAt = Date.parse(event.time);
  // Its size is counted too: what the batch runs that read its day read (their provenance).
  const { size } = event.detail.object;
  await store.markArchiveDay(
    filed.catalog,
    filed.day,
    Number.isNaN(objectAt) ? now : objectAt,
    now,
    Number.isSafeInteger(size) ? size : undefined,
  );
}

/** The archive marker: an EventBridge rule's target for the archive bucket's "Object Created" events. */
export const archiveMarkerFunction = defineFunction({
  name: 'archive-marker',
  handlerFile: 'functions/batch/marker-handler.ts',
  // It records what the archive received: the archive's service, beside Firehose's transform.
  service: SERVICES.archive,
  environment: { TABLE_NAME: requiredVariable('TABLE_NAME', 'the DynamoDB table') },
  build: (config, platform) => {
    const { logger } = createPowertools(config);
    const store = new DynamoBatchStore(platform.dynamo, config.TABLE_NAME, catalogs);
    return (event: S3ObjectCreatedNotificationEvent) =>
      markArchiveObject(store, logger, event, platform.now());
  },
});
