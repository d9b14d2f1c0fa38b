import { z } from 'zod';
import type { EventCatalog } from '../core';
import { MAX_DATA_QUALITY_REPORTS, RESPONSE_SCHEMAS, type ResponseName } from './schemas';

export { MAX_DATA_QUALITY_REPORTS, RESPONSE_SCHEMAS };

const json = (name: ResponseName) => ({
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
