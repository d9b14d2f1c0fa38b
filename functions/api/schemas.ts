/**
 * The API's contract as zod schemas: response bodies (the OpenAPI document's components, the tests'
 * checks and the CLI client's types) and request bodies (what the routes validate and document).
 */
import type { z } from 'zod';
import { batchRunStatus, dataQuality, drift } from './batch-run-schemas';
import { exportRestated, restatements, rollbackResult } from './ledger-schemas';
import {
  created,
  error,
  exportStatus,
  ingestResult,
  quarantine,
  series,
  top,
  views,
} from './response-schemas';

export { MAX_DATA_QUALITY_REPORTS } from './limits';
export {
  type ApiSurface,
  type RequestName,
  type RequestOf,
  type RequestSchemas,
  requestSchemas,
} from './request-schemas';

/** Every response body schema, by name: the OpenAPI document's components and the tests' checks. */
export const RESPONSE_SCHEMAS = {
  Error: error,
  Views: views,
  Series: series,
  Top: top,
  IngestResult: ingestResult,
  Created: created,
  BatchRun: batchRunStatus,
  Export: exportStatus.extend({ restated: exportRestated }),
  Drift: drift,
  DataQuality: dataQuality,
  Quarantine: quarantine,
  Restatements: restatements,
  Rollback: rollbackResult,
} as const;

export type ResponseName = keyof typeof RESPONSE_SCHEMAS;
/** The body of a response of the named schema, as a client reads it. */
export type ResponseOf<Name extends ResponseName> = z.infer<(typeof RESPONSE_SCHEMAS)[Name]>;
