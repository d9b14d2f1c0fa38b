import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { z } from 'zod';
import { catalogs } from '../../events';
import { views } from '../../views';
import { DynamoBatchStore } from '../adapters/dynamo-batch-store';
import { DynamoSpeedStore } from '../adapters/dynamo-speed-store';
import { DynamoExportJobs } from '../adapters/exports';
import { KinesisEventSink } from '../adapters/kinesis-events';
import { requiredVariable } from '../commons/config';
import { defineFunction } from '../commons/function';
import { SERVICES } from '../commons/metrics';
import type { Platform } from '../commons/platform';
import { createPowertools } from '../commons/powertools';
import { settleEnvironment, settlePolicyOf } from '../commons/settle';
import { checkViewCatalogs } from '../core';
import { Quarantine } from '../speed/quarantine';
import { createApi } from './app';
import type { ApiDeps } from './deps';

const apiEnvironment = {
  TABLE_NAME: requiredVariable('TABLE_NAME', 'the DynamoDB table'),
  STREAM_NAME: requiredVariable('STREAM_NAME', 'the Kinesis stream events are put on'),
  STATE_MACHINE_ARN: requiredVariable('STATE_MACHINE_ARN', 'the batch state machine'),
  ATHENA_WORKGROUP: requiredVariable('ATHENA_WORKGROUP', 'the Athena work group exports run in'),
  GLUE_DATABASE: requiredVariable('GLUE_DATABASE', "the Glue database of the catalogs' tables"),
  EXPORT_BUCKET: requiredVariable('EXPORT_BUCKET', 'the bucket Parquet exports are unloaded to'),
  EXPORT_PREFIX: requiredVariable('EXPORT_PREFIX', 'the key prefix of exports (expired by a lifecycle rule)'),
  QUARANTINE_BUCKET: requiredVariable('QUARANTINE_BUCKET', 'the bucket of quarantined records'),
  SPEED_RETENTION_HOURS: z.coerce.number().int().positive(),
  ROLLBACK_RETENTION_DAYS: z.coerce.number().int().nonnegative(),
  EXPORTS_RETENTION_DAYS: z.coerce.number().int().positive(),
  DEFINITION_SWITCH_MARGIN_SECONDS: z.coerce.number().int().nonnegative(),
  ...settleEnvironment,
};

type ApiConfig = z.output<z.ZodObject<typeof apiEnvironment>> & {
  readonly POWERTOOLS_SERVICE_NAME: string;
  readonly POWERTOOLS_METRICS_NAMESPACE: string;
};

/** The API's dependencies, from its environment and the platform. */
export function apiDeps(config: ApiConfig, platform: Platform): ApiDeps {
  checkViewCatalogs(views, catalogs);
  const { logger } = createPowertools(config);
  const batchStore = new DynamoBatchStore(platform.dynamo, config.TABLE_NAME, catalogs);
  const place = { workGroup: config.ATHENA_WORKGROUP, database: config.GLUE_DATABASE };
  return {
    catalogs,
    views,
    batchStore,
    speedStore: new DynamoSpeedStore(platform.dynamo, config.TABLE_NAME),
    speedRetentionMs: config.SPEED_RETENTION_HOURS * 3_600_000,
    rollbackRetentionMs: config.ROLLBACK_RETENTION_DAYS * 86_400_000,
    definitionSwitchMarginMs: config.DEFINITION_SWITCH_MARGIN_SECONDS * 1_000,
    settle: settlePolicyOf(config),
    events: new KinesisEventSink(platform.kinesis, config.STREAM_NAME),
    batchRuns: platform.batchRunner(config.STATE_MACHINE_ARN, (runId) => batchStore.runExecution(runId)),
    exportJobs: new DynamoExportJobs(
      platform.dynamo,
      config.TABLE_NAME,
      config.EXPORTS_RETENTION_DAYS * 86_400_000,
    ),
    exports: platform.exportEngine({ ...place, bucket: config.EXPORT_BUCKET, prefix: config.EXPORT_PREFIX }),
    quarantine: new Quarantine(platform.bucket(config.QUARANTINE_BUCKET)),
    logger,
    now: platform.now,
  };
}

/** The API function: API Gateway proxy events in, the router's answers out. */
export const apiFunction = defineFunction({
  name: 'api',
  handlerFile: 'functions/api/handler.ts',
  service: SERVICES.api,
  environment: apiEnvironment,
  build: (config, platform) => {
    const api = createApi(apiDeps(config, platform));
    return (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> =>
      api.handle(event, context);
  },
});
