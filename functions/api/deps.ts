import type { Logger } from '@aws-lambda-powertools/logger';
import type { BatchRunner } from '../adapters/batch-runner';
import type { DynamoBatchStore } from '../adapters/dynamo-batch-store';
import type { DynamoSpeedStore } from '../adapters/dynamo-speed-store';
import type { DynamoExportJobs, ExportEngine } from '../adapters/exports';
import type { EventSink } from '../adapters/kinesis-events';
import type { EventCatalogs, ViewDefinition } from '../core';
import type { SettlePolicy } from '../core/lateness';
import type { Quarantine } from '../speed/quarantine';

/** What the API works with: the handler builds it from the environment, the local runtime from emulators. */
export interface ApiDeps {
  /** The stack's event catalogs: `POST /events` holds each event to the one its `type` names. */
  readonly catalogs: EventCatalogs;
  readonly views: readonly ViewDefinition[];
  readonly batchStore: DynamoBatchStore;
  readonly speedStore: DynamoSpeedStore;
  /** How long speed items live past their bucket (the speed layer's TTL). */
  readonly speedRetentionMs: number;
  /** The stage's settle setting, which `GET /views` reports. @default the stage defaults' (fixed) */
  readonly settle?: SettlePolicy;
  /** How long a replaced manifest can be rolled back to. */
  readonly rollbackRetentionMs: number;
  /** A new view definition switches in no earlier than this after speed began counting it (`definitionSwitchFrom`). */
  readonly definitionSwitchMarginMs: number;
  readonly events: EventSink;
  readonly batchRuns: BatchRunner;
  readonly exportJobs: DynamoExportJobs;
  readonly exports: ExportEngine;
  /** Records the speed layer refused, with why. */
  readonly quarantine: Quarantine;
  readonly logger: Logger;
  readonly now: () => number;
}
