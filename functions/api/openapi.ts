/** The OpenAPI 3.1 document, derived from the route table and the response schemas. */
import { z } from 'zod';
import type { EventCatalogs } from '../core';
import { answer, type DeclaredRoute } from './route';
import { apiRoutes } from './routes';
import { RESPONSE_SCHEMAS } from './schemas';

/** What API Gateway answers itself, before or instead of the function, in the same error shape. */
const GATEWAY_ERRORS = {
  '403': answer('Error', 'No API key, or not the right one (API Gateway).'),
  '429': answer('Error', 'Throttled, or the key’s daily quota spent (API Gateway).'),
  '502': answer('Error', 'The function failed (API Gateway).'),
  '504': answer('Error', 'The function took longer than 29 s (API Gateway).'),
};

/**
 * What a route may refuse, from what it takes: a bad parameter or body (or one the router cannot decode)
 * is a 400, a path that names nothing a 404, a body too large a 413. A route's own description wins.
 */
function refusalsOf(route: DeclaredRoute) {
  const refusals = {
    ...(route.params || route.query || route.body
      ? { '400': answer('Error', 'Bad input; `details.parameter` names it.') }
      : {}),
    ...(route.params ? { '404': answer('Error', 'Unknown view or id.') } : {}),
    ...(route.body ? { '413': answer('Error', 'Body too large.') } : {}),
  };
  return Object.fromEntries(
    Object.entries(refusals).filter(([status]) => !Object.hasOwn(route.responses, status)),
  );
}

/** A schema as JSON Schema, as a client sends it (`io: 'input'`: before defaults and transforms). */
export function requestJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...jsonSchema } = z.toJSONSchema(schema, { io: 'input' });
  return jsonSchema;
}

/** Whether a request may leave the value out. */
const optional = (schema: z.ZodType) => schema.safeParse(undefined).success;

function parametersOf(where: 'path' | 'query', fields: Readonly<Record<string, z.ZodType>> = {}) {
  return Object.entries(fields).map(([name, schema]) => {
    const { description, ...jsonSchema } = requestJsonSchema(schema);
    return {
      name,
      in: where,
      required: where === 'path' || !optional(schema),
      ...(description === undefined ? {} : { description }),
      schema: jsonSchema,
    };
  });
}

function operationOf(route: DeclaredRoute) {
  const parameters = [...parametersOf('path', route.params), ...parametersOf('query', route.query)];
  return {
    summary: route.summary,
    ...(route.description === undefined ? {} : { description: route.description }),
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(route.body === undefined
      ? {}
      : {
          requestBody: {
            required: !optional(route.body),
            content: { 'application/json': { schema: requestJsonSchema(route.body) } },
          },
        }),
    responses: { ...route.responses, ...refusalsOf(route), ...GATEWAY_ERRORS },
  };
}

/** The OpenAPI document of these routes. */
export function openApiOf(routes: readonly DeclaredRoute[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operationOf(route) };
  }
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
    paths,
    components: {
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
      schemas: Object.fromEntries(
        Object.entries(RESPONSE_SCHEMAS).map(([name, schema]) => {
          const { $schema: _dialect, ...jsonSchema } = z.toJSONSchema(schema);
          return [name, jsonSchema];
        }),
      ),
    },
  };
}

/** The OpenAPI document of the API over these views and these event catalogs. */
export function openApiDocument(viewNames: readonly string[], catalogs?: EventCatalogs): object {
  return openApiOf(apiRoutes({ viewNames, catalogs }));
}
