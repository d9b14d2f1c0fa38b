import { z } from 'zod';
import { DISTANT_COPIES_LISTED, DISTANT_COPY_DAYS_LISTED } from '../adapters/dynamo-batch-store';
import type { EventCatalog } from '../core';

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

type SchemaName = keyof typeof RESPONSE_SCHEMAS;

const json = (name: SchemaName) => ({
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } },
});
const errors = {
  '400': { description: 'Bad input; `details.parameter` names it.', ...json('Error') },
  '404': { description: 'Unknown view or id.', ...json('Error') },
  '413': { description: 'Body too large.', ...json('Error') },
};
/** What API Gateway answers itself, before or instead of the function, in the same error shape. */
const gatewayErrors = {
  '403': { description: 'No API key, or not the right one (API Gateway).', ...json('Error') },
  '429': { description: 'Throttled, or the key’s daily quota spent (API Gateway).', ...json('Error') },
  '502': { description: 'The function failed (API Gateway).', ...json('Error') },
  '504': { description: 'The function took longer than 29 s (API Gateway).', ...json('Error') },
};
const time = (name: string, description: string) => ({
  name,
  in: 'query',
  required: true,
  description: `${description} Epoch milliseconds or ISO 8601 with a zone.`,
  schema: { type: 'string' },
});

/**
 * An event as JSON Schema, from the catalog's rules: the bounds `POST /events` holds events to. JSON
 * Schema's `maxLength` counts code points, as the catalog does.
 */
export function eventJsonSchema(catalog: EventCatalog): object {
  const properties = Object.fromEntries(
    Object.entries(catalog.rules).map(([name, rule]) => {
      const type = rule.required ? undefined : 'null';
      const schema =
        rule.type === 'integer'
          ? { type: type ? ['integer', type] : 'integer', minimum: rule.min, maximum: rule.max }
          : {
              type: type ? ['string', type] : 'string',
              ...(rule.oneOf === null
                ? { maxLength: rule.maxLength }
                : { enum: [...rule.oneOf, ...(type ? [null] : [])] }),
              ...(rule.nonEmpty ? { minLength: 1 } : {}),
            };
      return [name, schema];
    }),
  );
  const required = Object.entries(catalog.rules).flatMap(([name, rule]) => (rule.required ? [name] : []));
  return {
    type: 'object',
    properties,
    required,
    description:
      'Strings are well-formed Unicode (no lone surrogates); lengths count characters (code points). ' +
      `Times are epoch milliseconds from ${new Date(catalog.timeRange.from).toISOString()} to before ${new Date(catalog.timeRange.to).toISOString()}.`,
  };
}

/** The OpenAPI 3.1 document of the API, built from the same schemas the tests validate answers with. */
export function openApiDocument(viewNames: readonly string[], catalog?: EventCatalog): object {
  const event = catalog === undefined ? {} : eventJsonSchema(catalog);
  const viewName = { name: 'name', in: 'path', required: true, schema: { type: 'string', enum: viewNames } };
  const paths: Record<
    string,
    Record<string, { readonly responses: object; readonly [field: string]: unknown }>
  > = {
    '/views': { get: { summary: 'Views, watermarks, freshness', responses: { '200': json('Views') } } },
    '/views/{name}/series': {
      get: {
        summary: 'A view over time, merged per watermark',
        parameters: [
          viewName,
          time('from', 'Start (inclusive), aligned down to the step.'),
          time('to', 'End (exclusive), aligned up to the step.'),
          { name: 'step', in: 'query', schema: { type: 'string', enum: ['minute', 'hour', 'day'] } },
          { name: 'exact', in: 'query', schema: { type: 'boolean' }, description: 'Only buckets below W.' },
        ],
        description: 'Any other query parameter filters on a group field: `?country=US`.',
        responses: {
          '200': json('Series'),
          ...errors,
          '400': {
            description:
              'Bad input (`details.parameter` names it), or an answer that would pass the 6 MB an API ' +
              'answer can carry: narrow the range, coarsen the step, filter a group or ask `top`.',
            ...json('Error'),
          },
        },
      },
    },
    '/views/{name}/top': {
      get: {
        summary: 'Top groups by a measure',
        parameters: [
          viewName,
          time('from', 'Start (inclusive).'),
          time('to', 'End (exclusive).'),
          { name: 'measure', in: 'query', required: true, schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
        ],
        responses: { '200': json('Top'), ...errors },
      },
    },
    '/events': {
      post: {
        summary: 'Ingest one event or up to 500',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { oneOf: [event, { type: 'array', items: event }] } } },
        },
        responses: {
          '202': { description: 'Some or all accepted.', ...json('IngestResult') },
          '400': {
            description: 'None accepted (per-event errors), or a bad body (an error naming it).',
            content: {
              'application/json': {
                schema: {
                  oneOf: [
                    { $ref: '#/components/schemas/IngestResult' },
                    { $ref: '#/components/schemas/Error' },
                  ],
                },
              },
            },
          },
          '413': errors['413'],
          '503': { description: 'The stream refused every valid event.', ...json('Error') },
        },
      },
    },
    '/batch-runs': {
      post: {
        summary: 'Start a batch run now',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { backfill: { type: 'array', items: { type: 'string' } } },
              },
            },
          },
        },
        responses: { '202': json('Created'), ...errors },
      },
    },
    '/batch-runs/{id}': {
      get: {
        summary: 'A batch run: status, watermarks, drift',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': json('BatchRun'), ...errors },
      },
    },
    '/exports': {
      post: {
        summary: 'Start an exact export (to at or before the watermark)',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['view', 'from', 'to'],
                properties: {
                  view: { type: 'string' },
                  from: { type: ['string', 'integer'] },
                  to: { type: ['string', 'integer'] },
                  format: { type: 'string', enum: ['csv', 'parquet'] },
                },
              },
            },
          },
        },
        responses: { '202': json('Created'), ...errors },
      },
    },
    '/exports/{id}': {
      get: {
        summary: 'An export: status, rows, download links',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': json('Export'), ...errors },
      },
    },
    '/quarantine': {
      get: {
        summary: 'Records the speed layer refused, newest first, with why',
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500 } }],
        responses: { '200': json('Quarantine'), ...errors },
      },
    },
    '/drift': { get: { summary: 'Latest reconciliation reports', responses: { '200': json('Drift') } } },
    '/data-quality': {
      get: {
        summary: 'Latest data-quality reports: ids counted more than once, with their days',
        description:
          'Copies of an id at most the catalog’s dedupe horizon apart count once; copies further apart ' +
          'count once each, by design, and each run lists the ids its days count again.',
        parameters: [
          {
            name: 'limit',
            in: 'query',
            schema: { type: 'integer', minimum: 1, maximum: MAX_DATA_QUALITY_REPORTS },
          },
        ],
        responses: { '200': json('DataQuality'), ...errors },
      },
    },
    '/openapi.json': {
      get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'driftless',
      version: '1',
      description:
        'Views served from the batch layer below each watermark and the speed layer from it on. ' +
        'Integers beyond 2^53 are decimal strings.',
    },
    // Stages deployed with `apiAuth: iam` take SigV4-signed requests instead.
    security: [{ apiKey: [] }],
    paths: Object.fromEntries(
      Object.entries(paths).map(([path, operations]) => [
        path,
        Object.fromEntries(
          Object.entries(operations).map(([method, operation]) => [
            method,
            { ...operation, responses: { ...operation.responses, ...gatewayErrors } },
          ]),
        ),
      ]),
    ),
    components: {
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
      schemas: Object.fromEntries(
        Object.entries(RESPONSE_SCHEMAS).map(([name, schema]) => {
          const { $schema: _dialect, ...jsonSchema } = z.toJSONSchema(schema) as Record<string, unknown>;
          return [name, jsonSchema];
        }),
      ),
    },
  };
}
