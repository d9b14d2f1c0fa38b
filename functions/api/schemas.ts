/** The API's response bodies as zod schemas: the OpenAPI document's components, the tests' checks and
 * the CLI client's types. */
import { z } from 'zod';
import { DISTANT_COPIES_LISTED, DISTANT_COPY_DAYS_LISTED } from '../adapters/dynamo-batch-store';

/** A measure value: a JSON number while a safe integer, else its exact decimal text; null for no input. */
const measureValue = z
  .union([z.number().int(), z.string().regex(/^-?\d+$/), z.null()])
  .meta({ description: 'An exact integer: a number up to 2^53 - 1 in size, a decimal string beyond.' });

const epochMs = z.number().int().meta({ description: 'Epoch milliseconds (UTC).' });
const groupKey = z.record(z.string(), z.string().nullable());
const group = z.object({ key: groupKey, values: z.record(z.string(), measureValue) });
const batchRun = z.object({ id: z.string(), committedAt: epochMs }).nullable();

const error = z.object({
  statusCode: z.number().int(),
  error: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});

const viewSummary = z.object({
  name: z.string(),
  version: z.number().int(),
  bucket: z.enum(['minute', 'hour', 'day']),
  groupBy: z.array(z.string()),
  measures: z.record(z.string(), z.enum(['count', 'sum', 'min', 'max'])),
  watermark: epochMs,
  batchRun,
  speed: z.object({ latestBucket: epochMs.nullable(), lagMs: z.number().int().nullable() }),
});

const series = z.object({
  view: z.string(),
  version: z.number().int(),
  watermark: epochMs,
  step: z.enum(['minute', 'hour', 'day']),
  from: epochMs,
  to: epochMs,
  exact: z.boolean(),
  batchRun,
  buckets: z.array(
    z.object({ start: epochMs, source: z.enum(['batch', 'speed', 'mixed']), groups: z.array(group) }),
  ),
});

const top = z.object({
  view: z.string(),
  watermark: epochMs,
  from: epochMs,
  to: epochMs,
  measure: z.string(),
  groups: z.array(group),
});

const ingestResult = z.object({
  accepted: z.number().int(),
  rejected: z.number().int(),
  errors: z.array(
    z.object({
      index: z.number().int(),
      message: z.string(),
      fields: z.array(z.object({ field: z.string(), message: z.string() })),
    }),
  ),
});

const created = z.object({ id: z.string() });

/** A backfill's progress: the days of the new version loaded so far, resumed by the next run after a failure. */
const backfillProgress = z.object({
  version: z.number().int(),
  daysDone: z.number().int(),
  daysTotal: z.number().int(),
  loadedThrough: z
    .string()
    .meta({ description: 'The last day loaded (YYYY-MM-DD), or empty before the first.' }),
  startedAt: epochMs,
});

const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/)
  .meta({ description: 'A UTC day, YYYY-MM-DD.' });

/** Copies of an id further apart than the dedupe horizon count once each: listed, not fixed. */
const distantCopiesSummary = z
  .object({
    horizonDays: z.number().int().meta({ description: 'Copies at most this many days apart count once.' }),
    ids: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'Ids counted more than once; null when the query failed.' }),
    listed: z
      .array(z.string())
      .meta({ description: `The first ${DISTANT_COPIES_LISTED} of those ids, by id.` }),
    error: z.string().nullable(),
  })
  .nullable()
  .meta({
    description:
      'Ids the run counted more than once, their copies further apart than the dedupe horizon (their days: GET /data-quality).',
  });

const dataQualityReport = z.object({
  runId: z.string(),
  catalog: z.string(),
  startedAt: epochMs,
  recordedAt: epochMs,
  horizonDays: z.number().int(),
  dayRanges: z
    .array(z.tuple([day, day]))
    .meta({ description: 'The days the run recomputed, as [first, last] ranges.' }),
  ids: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'Ids counted more than once on those days; null when the query failed.' }),
  listed: z
    .array(
      z.object({
        id: z.string(),
        days: z.array(day).meta({
          description: `The days holding a copy (the first ${DISTANT_COPY_DAYS_LISTED}), ascending.`,
        }),
        dayCount: z.number().int(),
      }),
    )
    .meta({ description: `The first ${DISTANT_COPIES_LISTED} of those ids, by id.` }),
  error: z.string().nullable(),
});

const batchRunStatus = z.object({
  id: z.string(),
  status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED']),
  startedAt: epochMs,
  stoppedAt: epochMs.nullable(),
  error: z.string().nullable(),
  views: z.array(
    z.object({
      view: z.string(),
      watermark: epochMs,
      committedByThisRun: z.boolean(),
      outcome: z
        .union([
          z.object({
            view: z.string(),
            status: z.literal('committed'),
            watermark: epochMs,
            previousWatermark: epochMs.nullable(),
            revision: z.number().int(),
            days: z.number().int(),
            rows: z.number().int(),
            backfill: backfillProgress.nullable(),
          }),
          z.object({
            view: z.string(),
            status: z.literal('backfilling'),
            days: z.number().int(),
            rows: z.number().int(),
            backfill: backfillProgress,
          }),
          z.object({
            view: z.string(),
            status: z.literal('failed'),
            step: z.enum(['Query', 'Load', 'Commit']),
            error: z.string(),
            cause: z.string(),
            backfill: backfillProgress.nullable(),
          }),
        ])
        .nullable()
        .meta({
          description:
            'What the run did with the view, once its commit step ran: committed; still backfilling (the next run goes on, the manifest unchanged); or failed in a step.',
        }),
      progress: backfillProgress.nullable().meta({
        description: 'While the run is loading the view: its days loaded so far, of all it recomputes.',
      }),
      drift: z.unknown().meta({ description: 'The run’s drift report for the view, once reconciled.' }),
    }),
  ),
  skippedLines: z
    .object({
      lines: z.number().int().nullable(),
      objects: z.number().int().nullable(),
      byObject: z.array(z.object({ object: z.string(), lines: z.number().int() })),
      error: z.string().nullable(),
    })
    .nullable()
    .meta({
      description: 'Archive lines the run could not read (malformed JSON): skipped and counted, never fatal.',
    }),
  distantCopies: distantCopiesSummary,
});

const exportStatus = z.object({
  id: z.string(),
  view: z.string(),
  version: z.number().int(),
  from: epochMs,
  to: epochMs,
  format: z.enum(['csv', 'parquet']),
  createdAt: epochMs,
  watermark: epochMs,
  batchRunId: z.string(),
  status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED']),
  rows: z.number().int().nullable(),
  downloads: z.array(z.string()),
  error: z.string().nullable(),
});

const quarantine = z.object({
  total: z.number().int(),
  records: z.array(
    z.object({
      shardId: z.string(),
      sequenceNumber: z.string(),
      partitionKey: z.string(),
      approximateArrivalTimestamp: epochMs,
      reason: z.string(),
      errors: z.array(z.object({ field: z.string(), message: z.string() })),
      data: z.string().meta({ description: 'The record as delivered, base64: its first 6 KB at most.' }),
      dataBytes: z.number().int().meta({ description: 'The record’s size in bytes.' }),
      dataTruncated: z.boolean(),
    }),
  ),
});

const drift = z.object({ views: z.array(z.object({ view: z.string(), reports: z.array(z.unknown()) })) });

const dataQuality = z.object({
  catalog: z.string(),
  reports: z.array(dataQualityReport).meta({ description: 'The latest runs’ reports, newest first.' }),
});

/** At most this many reports per `GET /data-quality`: a report of 100 long ids is up to ~230 KB of answer. */
export const MAX_DATA_QUALITY_REPORTS = 20;

/** Every response body schema, by name: the OpenAPI document's components and the tests' checks. */
export const RESPONSE_SCHEMAS = {
  Error: error,
  Views: z.object({ views: z.array(viewSummary) }),
  Series: series,
  Top: top,
  IngestResult: ingestResult,
  Created: created,
  BatchRun: batchRunStatus,
  Export: exportStatus,
  Drift: drift,
  DataQuality: dataQuality,
  Quarantine: quarantine,
} as const;

export type ResponseName = keyof typeof RESPONSE_SCHEMAS;
/** The body of a response of the named schema, as a client reads it. */
export type ResponseOf<Name extends ResponseName> = z.infer<(typeof RESPONSE_SCHEMAS)[Name]>;
