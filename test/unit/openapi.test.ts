import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { catalogs } from '../../events';
import { openApiDocument } from '../../functions/api/openapi';
import { apiRoutes } from '../../functions/api/routes';
import { views } from '../../views';

type Operation = {
  requestBody?: { required: boolean; content: Record<string, { schema: object }> };
  parameters?: { name: string; in: string }[];
};
type JsonSchema = {
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
};
type OpenApi = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema> };
};

const viewNames = views.map((view) => view.name);
const routes = apiRoutes({ viewNames, catalogs });
const document = openApiDocument(viewNames, catalogs) as OpenApi;
const operationOf = (method: string, path: string) =>
  document.paths[path.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];

describe('the OpenAPI document', () => {
  const bodyRoutes = routes.flatMap((route) =>
    route.body === undefined ? [] : [[route.method, route.path, route.body] as const],
  );

  it.each(bodyRoutes)(
    'documents the body of %s %s as the schema the route validates it with',
    (method, path, body) => {
      // Prepare: the schema as a client writes the body, before defaults and transforms
      const { $schema: _dialect, ...expected } = z.toJSONSchema(body, { io: 'input' });
      // Act
      const requestBody = operationOf(method, path)?.requestBody;
      // Assess
      expect(requestBody?.content['application/json']?.schema).toEqual(expected);
      expect(requestBody?.required).toBe(!body.safeParse(undefined).success);
    },
  );

  it('lists each route once, with the path and query parameters it takes', () => {
    for (const route of routes) {
      const parameters = operationOf(route.method, route.path)?.parameters ?? [];
      expect(parameters.map(({ name, in: where }) => `${where} ${name}`)).toEqual([
        ...Object.keys(route.params ?? {}).map((name) => `path ${name}`),
        ...Object.keys(route.query ?? {}).map((name) => `query ${name}`),
      ]);
    }
    const operations = Object.values(document.paths).flatMap((operations) => Object.keys(operations));
    expect(operations).toHaveLength(routes.length);
  });
});

describe('the OpenAPI document of distinct measures', () => {
  const { schemas } = document.components;

  it('documents per series bucket whether its distinct values are exact or sketch estimates', () => {
    const bucket = schemas.Series?.properties?.buckets?.items;
    expect(bucket?.properties?.distinct?.enum).toEqual(['exact', 'sketch']);
  });

  it("documents the distinct measures a ranking leaves out, and each view's stated sketch error", () => {
    expect(Object.keys(schemas.Top?.properties?.omitted?.items?.properties ?? {})).toEqual([
      'measure',
      'reason',
    ]);
    const view = schemas.Views?.properties?.views?.items;
    expect(view?.properties?.measures).toMatchObject({
      additionalProperties: { enum: expect.arrayContaining(['countDistinct']) },
    });
    expect(Object.keys(view?.properties?.distinct?.anyOf?.[0]?.properties ?? {})).toEqual([
      'measures',
      'precision',
      'standardError',
      'errorBound',
      'errorSlack',
      'overBoundShare',
    ]);
  });
});
