import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { catalogs } from '../../events';
import { createApi } from '../../functions/api/app';
import { apiRoutes } from '../../functions/api/routes';
import {
  type ApiGatewayOptions,
  type LocalApiServer,
  type ProxyHandler,
  startApiGateway,
} from '../../local/api-server';
import type { CloudFormationTemplate } from '../../local/template';
import { views } from '../../views';
import { apiDeps } from '../support/api-deps';
import { synthesizeStack } from '../support/template';

const template = synthesizeStack().template.toJSON() as CloudFormationTemplate;
const API_KEY = 'test-key-1234';
const MB = 1024 * 1024;

/** A function that records the events it is given and answers 200 `{}`. */
function recordingHandler(answer: Partial<APIGatewayProxyResult> = {}) {
  const events: APIGatewayProxyEvent[] = [];
  const handler: ProxyHandler = async (event) => {
    events.push(event);
    return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: '{}', ...answer };
  };
  return { events, handler };
}

/** The router itself, over dependencies it must not reach: only answers made before any read. */
function routerOnly(): ProxyHandler {
  // The stores are never called on the paths these tests take; the proxies fail the test if they are.
  const api = createApi(apiDeps('the router', {}));
  return (event, context) => api.handle(event, context);
}

/** A copy of the template with `change` applied to each resource of `type`. */
function withResources(
  type: string,
  change: (properties: Record<string, unknown>) => Record<string, unknown> | null,
): CloudFormationTemplate {
  const copy = structuredClone(template) as {
    Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  };
  for (const [id, resource] of Object.entries(copy.Resources)) {
    if (resource.Type !== type) continue;
    const changed = change(structuredClone(resource.Properties ?? {}));
    if (changed === null) delete copy.Resources[id];
    else resource.Properties = changed;
  }
  return copy;
}

const started: LocalApiServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()));
});

async function gateway(handler: ProxyHandler, options: Partial<ApiGatewayOptions> = {}) {
  const server = await startApiGateway(handler, { template, apiKey: API_KEY, ...options });
  started.push(server);
  return server.url;
}

const withKey = { 'x-api-key': API_KEY };

/** An answer API Gateway made itself: the API's error shape, with the CORS header a browser needs. */
async function expectGatewayError(response: Response, status: number, error: string, message: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('access-control-allow-origin')).toBe('*');
  expect(response.headers.get('content-type')).toBe('application/json');
  expect(await response.json()).toMatchObject({ statusCode: status, error, message });
}

describe('the local API Gateway, reproduced from the synthesized template', () => {
  it.each(['/', '/views/revenue/series'])(
    'answers a CORS preflight on %s itself, without a key, from its MOCK integration',
    async (path) => {
      // Prepare
      const { events, handler } = recordingHandler();
      const url = await gateway(handler);
      // Act
      const response = await fetch(`${url}${path}`, {
        method: 'OPTIONS',
        headers: {
          Origin: 'http://dashboard.example',
          'Access-Control-Request-Method': 'GET',
          'Access-Control-Request-Headers': 'x-api-key',
        },
      });
      // Assess
      expect([200, 204]).toContain(response.status);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(response.headers.get('access-control-allow-headers')).toMatch(/X-Api-Key/i);
      expect(response.headers.get('access-control-allow-methods')).toContain('GET');
      expect(events).toHaveLength(0);
    },
  );

  it('fails a preflight with 500, as AWS does, when the MOCK integration does not convert the binary request to text', async () => {
    // Prepare: the template as it was before the fix, binary media types `*/*` and no content handling.
    const unconverted = withResources('AWS::ApiGateway::Method', (properties) => {
      const { ContentHandling: _dropped, ...integration } = properties.Integration as Record<string, unknown>;
      return { ...properties, Integration: integration };
    });
    const url = await gateway(recordingHandler().handler, { template: unconverted });
    // Act
    const response = await fetch(`${url}/views`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://dashboard.example', 'Access-Control-Request-Method': 'GET' },
    });
    // Assess
    await expectGatewayError(response, 500, 'Internal Server Error', 'Internal server error');
  });

  it.each([
    ['without a key', {}],
    ['with a wrong key', { 'x-api-key': 'not-the-key' }],
  ])('refuses a request %s with a JSON 403 carrying CORS headers', async (_case, headers) => {
    // Prepare
    const { events, handler } = recordingHandler();
    const url = await gateway(handler);
    // Act
    const response = await fetch(`${url}/views`, { headers });
    // Assess
    await expectGatewayError(response, 403, 'Forbidden', 'Forbidden');
    expect(events).toHaveLength(0);
  });

  it('renders a type without a gateway response of its own from DEFAULT_4XX, CORS headers included', async () => {
    // Prepare
    const withoutKeyResponse = withResources('AWS::ApiGateway::GatewayResponse', (properties) =>
      properties.ResponseType === 'INVALID_API_KEY' ? null : properties,
    );
    const url = await gateway(recordingHandler().handler, { template: withoutKeyResponse });
    // Act
    const response = await fetch(`${url}/views`);
    // Assess: API Gateway's status for the type, the fallback's headers and body.
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(await response.json()).toMatchObject({
      message: 'Forbidden',
      details: { responseType: 'INVALID_API_KEY' },
    });
  });

  it('answers AWS’s bare message without CORS headers when the template declares no gateway responses', async () => {
    // Prepare
    const bare = withResources('AWS::ApiGateway::GatewayResponse', () => null);
    const url = await gateway(recordingHandler().handler, { template: bare });
    // Act
    const response = await fetch(`${url}/views`);
    // Assess
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(await response.json()).toEqual({ message: 'Forbidden' });
  });

  it('passes an unknown path with a key to the router, which answers a JSON 404', async () => {
    // Prepare
    const url = await gateway(routerOnly());
    // Act
    const response = await fetch(`${url}/nothing/here`, { headers: withKey });
    // Assess
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ statusCode: 404 });
  });

  it('passes an unknown view to the router, which answers a 404 naming the parameter', async () => {
    // Prepare
    const url = await gateway(routerOnly());
    // Act
    const response = await fetch(`${url}/views/nope/series?from=0&to=1`, { headers: withKey });
    // Assess
    expect(response.status).toBe(404);
    expect(((await response.json()) as { details?: unknown }).details).toEqual({ parameter: 'name' });
  });

  it('passes a request missing a required parameter to the router, which answers a 400 naming it', async () => {
    // Prepare
    const url = await gateway(routerOnly());
    // Act
    const response = await fetch(`${url}/views/revenue/series?from=0`, { headers: withKey });
    // Assess
    expect(response.status).toBe(400);
    expect(((await response.json()) as { details?: unknown }).details).toEqual({ parameter: 'to' });
  });

  /** For each route that takes a body: bodies its schema refuses, and the field the 400 names. */
  const refusedBodies = [
    ['POST', '/events', '[]', 'body'],
    ['POST', '/events', '{"id": ', 'body'],
    ['POST', '/batch-runs', '{"backfill": ["nope"]}', 'backfill'],
    ['POST', '/batch-runs', '{"backfill": ["revenue"], "now": true}', 'now'],
    ['POST', '/batch-runs', '["revenue"]', 'body'],
    ['POST', '/exports', '{"view": "revenue", "from": "yesterday", "to": 3600000}', 'from'],
    ['POST', '/exports', '{"view": "revenue", "from": 0, "to": -1}', 'to'],
    ['POST', '/exports', '{"view": "revenue", "from": 0, "to": 3600000, "format": "xlsx"}', 'format'],
    ['POST', '/exports', '{"from": 0, "to": 3600000}', 'view'],
    ['POST', '/views/:name/rollback', '{"to": 5}', 'to'],
    ['POST', '/views/:name/rollback', '{"expectedRevision": -1}', 'expectedRevision'],
  ] as const;

  it('has refused bodies for every route that takes one', () => {
    const viewNames = views.map((view) => view.name);
    const bodyRoutes = apiRoutes({ viewNames, catalogs }).filter((route) => route.body);
    expect(new Set(refusedBodies.map(([method, path]) => `${method} ${path}`))).toEqual(
      new Set(bodyRoutes.map((route) => `${route.method} ${route.path}`)),
    );
  });

  it.each(refusedBodies)(
    'passes %s %s a body its schema refuses (%s) to the router, which answers a 400 naming %s',
    async (method, path, body, field) => {
      // Prepare
      const url = await gateway(routerOnly());
      // Act
      const response = await fetch(`${url}${path.replace(':name', 'revenue')}`, {
        method,
        headers: { ...withKey, 'Content-Type': 'application/json' },
        body,
      });
      // Assess
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({
        statusCode: 400,
        error: 'BadRequestError',
        message: expect.stringMatching(new RegExp(`^${field}: `)),
        details: { parameter: field },
      });
    },
  );

  it('answers a path no resource method takes with 403 Missing Authentication Token', async () => {
    // Prepare: the template without its {proxy+} methods.
    const rootOnly = withResources('AWS::ApiGateway::Method', (properties) =>
      (properties.ResourceId as { Ref?: string }).Ref === undefined ? properties : null,
    );
    const { events, handler } = recordingHandler();
    const url = await gateway(handler, { template: rootOnly });
    // Act
    const response = await fetch(`${url}/views`, { headers: withKey });
    // Assess
    await expectGatewayError(response, 403, 'Forbidden', 'Missing Authentication Token');
    expect(events).toHaveLength(0);
  });

  it('refuses a request body above 10 MB with 413 before the function sees it', async () => {
    // Prepare
    const { events, handler } = recordingHandler();
    const url = await gateway(handler);
    // Act
    const response = await fetch(`${url}/events`, {
      method: 'POST',
      headers: { ...withKey, 'Content-Type': 'application/json' },
      body: 'x'.repeat(10 * MB + 1),
    });
    // Assess
    await expectGatewayError(response, 413, 'Content Too Large', 'Request Too Long');
    expect(events).toHaveLength(0);
  });

  it('refuses a body whose base64 event passes Lambda’s 6 MB invocation limit with 413', async () => {
    // Prepare: 5 MB is under API Gateway's limit, but base64 makes the event 6.7 MB.
    const { events, handler } = recordingHandler();
    const url = await gateway(handler);
    // Act
    const response = await fetch(`${url}/events`, {
      method: 'POST',
      headers: withKey,
      body: 'x'.repeat(5 * MB),
    });
    // Assess
    await expectGatewayError(response, 413, 'Content Too Large', 'Request Too Long');
    expect(events).toHaveLength(0);
  });

  it('answers 502 when the function’s result passes 6 MB', async () => {
    // Prepare
    const { handler } = recordingHandler({ body: 'x'.repeat(6 * MB) });
    const url = await gateway(handler);
    // Act
    const response = await fetch(`${url}/views`, { headers: withKey });
    // Assess
    await expectGatewayError(response, 502, 'Bad Gateway', 'Internal server error');
  });

  it('passes a function result under 6 MB through', async () => {
    // Prepare
    const { handler } = recordingHandler({ body: 'x'.repeat(5 * MB) });
    const url = await gateway(handler);
    // Act
    const response = await fetch(`${url}/views`, { headers: withKey });
    // Assess
    expect(response.status).toBe(200);
    expect((await response.text()).length).toBe(5 * MB);
  });

  it('answers 504 when the function outlasts the integration timeout', async () => {
    // Prepare
    const url = await gateway(() => new Promise(() => {}), { integrationTimeoutMs: 50 });
    // Act
    const response = await fetch(`${url}/views`, { headers: withKey });
    // Assess
    await expectGatewayError(response, 504, 'Gateway Timeout', 'Endpoint request timed out');
  });

  it('takes the integration timeout from the template when not given one', async () => {
    // Prepare
    const quick = withResources('AWS::ApiGateway::Method', (properties) => ({
      ...properties,
      Integration: { ...(properties.Integration as object), TimeoutInMillis: 50 },
    }));
    const url = await gateway(() => new Promise(() => {}), { template: quick });
    // Act
    const response = await fetch(`${url}/views`, { headers: withKey });
    // Assess
    expect(response.status).toBe(504);
  });

  it('answers 502 when the function throws', async () => {
    // Prepare
    const url = await gateway(async () => {
      throw new Error('boom');
    });
    // Act
    const response = await fetch(`${url}/views`, { headers: withKey });
    // Assess
    await expectGatewayError(response, 502, 'Bad Gateway', 'Internal server error');
  });

  it('answers 502 when the function returns what is not a proxy result', async () => {
    // Prepare
    const url = await gateway(async () => ({ body: 42 }) as unknown as APIGatewayProxyResult);
    // Act
    const response = await fetch(`${url}/views`, { headers: withKey });
    // Assess
    await expectGatewayError(response, 502, 'Bad Gateway', 'Internal server error');
  });

  it('gives the function a request body base64-encoded, as binary media types */* make it', async () => {
    // Prepare
    const { events, handler } = recordingHandler();
    const url = await gateway(handler);
    const body = JSON.stringify([{ id: 'a', note: 'été' }]);
    // Act
    await fetch(`${url}/events`, {
      method: 'POST',
      headers: { ...withKey, 'Content-Type': 'application/json' },
      body,
    });
    // Assess
    expect(events[0]?.isBase64Encoded).toBe(true);
    expect(Buffer.from(events[0]?.body ?? '', 'base64').toString('utf8')).toBe(body);
  });

  it('builds the proxy event of the {proxy+} resource, its path parameter and query as API Gateway does', async () => {
    // Prepare
    const { events, handler } = recordingHandler();
    const url = await gateway(handler);
    // Act
    await fetch(`${url}/views/revenue/series?from=1&to=2&country=US&country=FR`, { headers: withKey });
    // Assess
    expect(events[0]).toMatchObject({
      resource: '/{proxy+}',
      path: '/views/revenue/series',
      httpMethod: 'GET',
      pathParameters: { proxy: 'views/revenue/series' },
      queryStringParameters: { from: '1', to: '2', country: 'FR' },
      multiValueQueryStringParameters: { country: ['US', 'FR'] },
      body: null,
      isBase64Encoded: false,
      requestContext: {
        resourcePath: '/{proxy+}',
        path: '/v1/views/revenue/series',
        stage: 'v1',
        httpMethod: 'GET',
        identity: { apiKey: API_KEY },
      },
    });
  });

  it('gives a request for the root to the root resource, without path parameters', async () => {
    // Prepare
    const { events, handler } = recordingHandler();
    const url = await gateway(handler);
    // Act
    await fetch(`${url}/`, { headers: withKey });
    // Assess
    expect(events[0]).toMatchObject({ resource: '/', path: '/', pathParameters: null });
  });

  it('decodes a base64 result for a client, as binary media types */* make it', async () => {
    // Prepare
    const zipped = gzipSync('{"views":[]}');
    const { handler } = recordingHandler({
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
      body: zipped.toString('base64'),
      isBase64Encoded: true,
    });
    const url = await gateway(handler);
    // Act
    const response = await fetch(`${url}/views`, { headers: { ...withKey, 'Accept-Encoding': 'gzip' } });
    // Assess: fetch unzips what it was sent, so the bytes sent were the gzip stream itself.
    expect(await response.text()).toBe(gunzipSync(zipped).toString());
  });

  it('serves static mounts first, for GETs, without a key', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'driftless-mount-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'index.html'), '<p>dashboard</p>');
    const { events, handler } = recordingHandler();
    const url = await gateway(handler, { mounts: [{ prefix: '/', dir }] });
    // Act
    const response = await fetch(`${url}/`);
    // Assess
    expect(await response.text()).toBe('<p>dashboard</p>');
    expect(events).toHaveLength(0);
  });

  it('rejects a busy port instead of throwing an unhandled error', async () => {
    // Prepare
    const url = await gateway(recordingHandler().handler);
    const port = Number(new URL(url).port);
    // Act, Assess
    await expect(
      startApiGateway(recordingHandler().handler, { template, apiKey: API_KEY, port }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
