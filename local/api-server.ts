import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { type CloudFormationTemplate, LOCAL_ACCOUNT } from './template';

/*
 * The local stand-in for API Gateway (REST), reproducing from the synthesized template what AWS does
 * around the function. Each behaviour follows the AWS documentation:
 * - limits: https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-execution-service-limits-table.html
 *   (10 MB payload, 29 s integration timeout) and
 *   https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (6 MB synchronous response);
 * - gateway responses: https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html
 *   and their variables, https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html;
 * - binary payloads: https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings-workflow.html;
 * - function failures: https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html;
 * - the proxy event: https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html.
 * Stage and usage plan throttling and quotas are not reproduced.
 */

/** API Gateway refuses request payloads above 10 MB. */
const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
/** Lambda refuses a synchronous invocation's payload, and its result, above 6 MB. */
const MAX_INVOCATION_BYTES = 6 * 1024 * 1024;
/** API Gateway's integration timeout unless the integration sets its own. */
const DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.csv': 'text/csv; charset=utf-8',
  '.parquet': 'application/vnd.apache.parquet',
};

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** A URL prefix served from a folder (the dashboard page, export downloads). */
export interface StaticMount {
  readonly prefix: string;
  readonly dir: string;
}

export interface ApiGatewayOptions {
  /** The synthesized template; its one AWS::ApiGateway::RestApi is what is reproduced. */
  readonly template: CloudFormationTemplate;
  /** What callers must send as x-api-key where a method requires a key. */
  readonly apiKey: string;
  readonly port?: number;
  readonly host?: string;
  readonly mounts?: readonly StaticMount[];
  /** @default the integration's TimeoutInMillis in the template, else 29,000 */
  readonly integrationTimeoutMs?: number;
}

export interface LocalApiServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

interface Integration {
  readonly type: 'AWS_PROXY' | 'MOCK';
  readonly contentHandling?: string;
  readonly requestTemplates: Readonly<Record<string, string>>;
  readonly responses: readonly {
    readonly statusCode: number;
    readonly selectionPattern?: string;
    readonly parameters: Readonly<Record<string, string>>;
  }[];
  readonly timeoutMs?: number;
}

/** A method of the REST API, as the template declares it. */
export interface ApiMethod {
  readonly apiKeyRequired: boolean;
  readonly authorizationType: string;
  readonly integration: Integration;
}

interface ApiResource {
  readonly id: string;
  /** The resource path as API Gateway names it: `/`, `/{proxy+}`. */
  readonly path: string;
  readonly pathPart: string;
  readonly children: ApiResource[];
  readonly methods: Map<string, ApiMethod>;
}

interface GatewayResponse {
  readonly statusCode?: number;
  readonly parameters: Readonly<Record<string, string>>;
  readonly templates: Readonly<Record<string, string>>;
}

/** What the template says of the REST API. */
interface RestApiModel {
  readonly root: ApiResource;
  readonly binaryMediaTypes: readonly string[];
  readonly gatewayResponses: ReadonlyMap<string, GatewayResponse>;
  readonly stage: string;
}

/**
 * The default status of each gateway response type API Gateway answers locally, and its message (what
 * `$context.error.message` holds).
 */
const GATEWAY_ERRORS = {
  MISSING_AUTHENTICATION_TOKEN: { status: 403, message: 'Missing Authentication Token' },
  INVALID_API_KEY: { status: 403, message: 'Forbidden' },
  REQUEST_TOO_LARGE: { status: 413, message: 'Request Too Long' },
  API_CONFIGURATION_ERROR: { status: 500, message: 'Internal server error' },
  INTEGRATION_TIMEOUT: { status: 504, message: 'Endpoint request timed out' },
  // The function failed (threw, or answered malformed or above 6 MB): no type of its own.
  DEFAULT_5XX: { status: 502, message: 'Internal server error' },
} as const;
type GatewayError = keyof typeof GATEWAY_ERRORS;

const asRecord = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
const asStrings = (value: unknown): Record<string, string> =>
  Object.fromEntries(
    Object.entries(asRecord(value)).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string',
    ),
  );

/** The logical id a `Ref` names, or `root` for the API's `Fn::GetAtt [api, RootResourceId]`. */
function referenceOf(value: unknown, apiId: string): string | undefined {
  const reference = asRecord(value);
  if (typeof reference.Ref === 'string') return reference.Ref;
  const getAtt = reference['Fn::GetAtt'];
  if (Array.isArray(getAtt) && getAtt[0] === apiId && getAtt[1] === 'RootResourceId') return 'root';
  return undefined;
}

function readIntegration(where: string, value: unknown): Integration {
  const integration = asRecord(value);
  const type = integration.Type;
  // Only what this stack declares: anything else would be answered wrongly, so it is refused.
  if (type !== 'AWS_PROXY' && type !== 'MOCK')
    throw new Error(`${where}: integration type ${String(type)} is not reproduced locally`);
  const responses = Array.isArray(integration.IntegrationResponses) ? integration.IntegrationResponses : [];
  return {
    type,
    ...(typeof integration.ContentHandling === 'string'
      ? { contentHandling: integration.ContentHandling }
      : {}),
    requestTemplates: asStrings(integration.RequestTemplates),
    responses: responses.map((response) => {
      const fields = asRecord(response);
      return {
        statusCode: Number(fields.StatusCode),
        ...(typeof fields.SelectionPattern === 'string' ? { selectionPattern: fields.SelectionPattern } : {}),
        parameters: asStrings(fields.ResponseParameters),
      };
    }),
    ...(typeof integration.TimeoutInMillis === 'number' ? { timeoutMs: integration.TimeoutInMillis } : {}),
  };
}

/** The REST API of a synthesized template: its resource tree, methods, binary media types and gateway responses. */
function readRestApi(template: CloudFormationTemplate): RestApiModel {
  const resources = Object.entries(template.Resources);
  const apis = resources.filter(([, resource]) => resource.Type === 'AWS::ApiGateway::RestApi');
  const [api] = apis;
  if (apis.length !== 1 || api === undefined)
    throw new Error(`the template has ${apis.length} AWS::ApiGateway::RestApi resources; expected one`);
  const [apiId, { Properties: apiProperties = {} }] = api;
  const ofApi = (type: string) =>
    resources
      .filter(([, resource]) => resource.Type === type)
      .map(([id, resource]) => ({ id, properties: resource.Properties ?? {} }))
      .filter(({ properties }) => referenceOf(properties.RestApiId, apiId) === apiId);

  const root: ApiResource = { id: 'root', path: '/', pathPart: '', children: [], methods: new Map() };
  const byId = new Map<string, ApiResource>([['root', root]]);
  const pending = ofApi('AWS::ApiGateway::Resource');
  // Parents may come after their children in the template: attach in rounds until nothing is left.
  while (pending.length > 0) {
    const index = pending.findIndex(({ properties }) =>
      byId.has(referenceOf(properties.ParentId, apiId) ?? ''),
    );
    if (index < 0)
      throw new Error(`resources without a parent in the API: ${pending.map(({ id }) => id).join(', ')}`);
    const [next] = pending.splice(index, 1) as [(typeof pending)[number]];
    const parent = byId.get(referenceOf(next.properties.ParentId, apiId) ?? '') as ApiResource;
    const pathPart = String(next.properties.PathPart);
    const resource: ApiResource = {
      id: next.id,
      path: `${parent.path === '/' ? '' : parent.path}/${pathPart}`,
      pathPart,
      children: [],
      methods: new Map(),
    };
    parent.children.push(resource);
    byId.set(next.id, resource);
  }
  for (const { id, properties } of ofApi('AWS::ApiGateway::Method')) {
    const resource = byId.get(referenceOf(properties.ResourceId, apiId) ?? '');
    if (resource === undefined) throw new Error(`method ${id} is on no resource of the API`);
    resource.methods.set(String(properties.HttpMethod), {
      apiKeyRequired: properties.ApiKeyRequired === true,
      authorizationType: String(properties.AuthorizationType ?? 'NONE'),
      integration: readIntegration(id, properties.Integration),
    });
  }
  const gatewayResponses = new Map(
    ofApi('AWS::ApiGateway::GatewayResponse').map(({ properties }) => [
      String(properties.ResponseType),
      {
        ...(properties.StatusCode === undefined ? {} : { statusCode: Number(properties.StatusCode) }),
        parameters: asStrings(properties.ResponseParameters),
        templates: asStrings(properties.ResponseTemplates),
      },
    ]),
  );
  const stage = ofApi('AWS::ApiGateway::Stage')[0]?.properties.StageName;
  return {
    root,
    binaryMediaTypes: Array.isArray(apiProperties.BinaryMediaTypes)
      ? apiProperties.BinaryMediaTypes.map(String)
      : [],
    gatewayResponses,
    stage: typeof stage === 'string' ? stage : 'local',
  };
}

/**
 * The resource a path falls on: literal path parts first, then `{param}`, then a greedy `{param+}`,
 * with the path parameters it binds (kept percent-encoded, as API Gateway passes them).
 */
function matchResource(
  resource: ApiResource,
  segments: readonly string[],
  params: Record<string, string> = {},
): { resource: ApiResource; params: Record<string, string> } | null {
  const [segment, ...rest] = segments;
  if (segment === undefined) return { resource, params };
  for (const child of resource.children.filter((candidate) => candidate.pathPart === segment)) {
    const found = matchResource(child, rest, params);
    if (found !== null) return found;
  }
  for (const child of resource.children) {
    const name = /^\{([^}+]+)\}$/.exec(child.pathPart)?.[1];
    if (name === undefined || segment === '') continue;
    const found = matchResource(child, rest, { ...params, [name]: segment });
    if (found !== null) return found;
  }
  for (const child of resource.children) {
    const name = /^\{([^}]+)\+\}$/.exec(child.pathPart)?.[1];
    if (name !== undefined) return { resource: child, params: { ...params, [name]: segments.join('/') } };
  }
  return null;
}

/** The method API Gateway selects for a request, on the resource its path falls on. */
export interface ApiMethodMatch {
  /** The resource's logical id (`root` for the API's root) and path, e.g. `/{proxy+}`. */
  readonly resourceId: string;
  readonly resourcePath: string;
  /** The path parameters the resource binds, kept percent-encoded; null when it binds none. */
  readonly pathParameters: Record<string, string> | null;
  readonly method: ApiMethod;
}

/**
 * The method that answers `httpMethod` on a (percent-encoded) path: the request's method on the resource
 * the path falls on, else its ANY; null when it has neither (API Gateway answers 403 itself).
 */
function selectMethod(api: RestApiModel, httpMethod: string, path: string): ApiMethodMatch | null {
  const matched = matchResource(api.root, path === '/' ? [] : path.slice(1).split('/'));
  const method = matched?.resource.methods.get(httpMethod) ?? matched?.resource.methods.get('ANY');
  if (matched === null || method === undefined) return null;
  return {
    resourceId: matched.resource.id,
    resourcePath: matched.resource.path,
    pathParameters: Object.keys(matched.params).length > 0 ? matched.params : null,
    method,
  };
}

/**
 * The method the REST API of a synthesized template selects for a request, with its resource and path
 * parameters, as the local API Gateway selects it; null where API Gateway answers 403 itself.
 */
export const matchApiMethod = (
  template: CloudFormationTemplate,
  httpMethod: string,
  path: string,
): ApiMethodMatch | null => selectMethod(readRestApi(template), httpMethod, path);

/** Whether a media type (a Content-Type, or an Accept's first entry) is one of the binary media types. */
function isBinary(binaryMediaTypes: readonly string[], mediaType: string | undefined): boolean {
  const [type = '', subtype = ''] = (mediaType ?? '').split(/[;,]/)[0]?.trim().toLowerCase().split('/') ?? [];
  return binaryMediaTypes.some((binary) => {
    if (binary === '*/*') return true;
    const [binaryType, binarySubtype] = binary.toLowerCase().split('/');
    return binaryType === type && (binarySubtype === '*' || binarySubtype === subtype);
  });
}

/** The request's URL; `//x` is a path here, not a host as `new URL('//x', base)` would read it. */
const requestUrl = (request: IncomingMessage): URL => new URL(`http://localhost${request.url ?? '/'}`);

const header = (request: IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** The body, or null when it passes `limit` (read to its end all the same, so the answer can be read). */
async function readBody(request: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size > limit ? null : Buffer.concat(chunks);
}

async function serveStatic(
  mounts: readonly StaticMount[],
  path: string,
  response: ServerResponse,
): Promise<boolean> {
  for (const mount of mounts) {
    if (
      !(
        path === mount.prefix ||
        path.startsWith(mount.prefix.endsWith('/') ? mount.prefix : `${mount.prefix}/`)
      )
    )
      continue;
    let relative: string;
    try {
      relative = decodeURIComponent(path.slice(mount.prefix.length)).replace(/^\/+/, '');
    } catch {
      return false; // not a path any file has
    }
    if (relative === '') relative = 'index.html';
    // Resolved, so a folder given with a trailing slash compares like one without.
    const root = resolve(mount.dir);
    const file = resolve(root, relative);
    // Never outside the mounted folder.
    if (!file.startsWith(root + sep)) return false;
    const info = await stat(file).catch(() => null);
    if (info === null || !info.isFile()) return false;
    response.writeHead(200, {
      'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': info.size,
    });
    createReadStream(file).pipe(response);
    return true;
  }
  return false;
}

/** An answer to write: status, headers, body. */
interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer;
}

/**
 * An answer API Gateway makes itself, rendered from the template's gateway response for its type, else
 * its DEFAULT_4XX or DEFAULT_5XX, else AWS's bare `{"message": ...}`. Templates are not VTL: only the
 * `$context.error.*` variables are substituted.
 */
function gatewayAnswer(api: RestApiModel, type: GatewayError, request: IncomingMessage): Answer {
  const { status, message } = GATEWAY_ERRORS[type];
  const own = api.gatewayResponses.get(type);
  const fallback = api.gatewayResponses.get(status >= 500 ? 'DEFAULT_5XX' : 'DEFAULT_4XX');
  const response = own ?? fallback;
  const template = response?.templates['application/json'] ?? Object.values(response?.templates ?? {})[0];
  const body =
    template === undefined
      ? JSON.stringify({ message })
      : template
          // Replaced by functions: a replacement string would read `$&` and the like in it.
          .replaceAll('$context.error.messageString', () => JSON.stringify(message))
          .replaceAll('$context.error.message', () => message)
          .replaceAll('$context.error.responseType', () => type);
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  for (const [key, source] of Object.entries(response?.parameters ?? {})) {
    const name = /^gatewayresponse\.header\.(.+)$/.exec(key)?.[1];
    if (name === undefined) continue;
    const literal = /^'(.*)'$/.exec(source)?.[1];
    const fromRequest = /^method\.request\.header\.(.+)$/.exec(source)?.[1];
    const value =
      literal ?? (fromRequest === undefined ? undefined : header(request, fromRequest.toLowerCase()));
    if (value !== undefined) headers[name] = value;
  }
  return {
    status: own?.statusCode ?? fallback?.statusCode ?? status,
    headers,
    body: Buffer.from(body),
  };
}

/** A MOCK integration's answer: the integration response its request template's status selects. */
function mockAnswer(api: RestApiModel, integration: Integration, request: IncomingMessage): Answer {
  // Under a matching binary media type the request is binary; a MOCK integration must turn it into its
  // (text) request template, which only CONVERT_TO_TEXT does: AWS answers 500 "Unable to transform request".
  if (
    isBinary(api.binaryMediaTypes, header(request, 'content-type')) &&
    integration.contentHandling !== 'CONVERT_TO_TEXT'
  )
    return gatewayAnswer(api, 'API_CONFIGURATION_ERROR', request);
  const requestTemplate =
    integration.requestTemplates['application/json'] ?? Object.values(integration.requestTemplates)[0] ?? '';
  const selected = /statusCode["']?\s*:\s*(\d{3})/.exec(requestTemplate)?.[1] ?? '200';
  const response =
    integration.responses.find(
      ({ selectionPattern }) =>
        selectionPattern !== undefined &&
        selectionPattern !== '' &&
        new RegExp(`^(?:${selectionPattern})$`).test(selected),
    ) ?? integration.responses.find(({ selectionPattern }) => !selectionPattern);
  if (response === undefined) return gatewayAnswer(api, 'API_CONFIGURATION_ERROR', request);
  const headers: Record<string, string> = {};
  for (const [key, source] of Object.entries(response.parameters)) {
    const name = /^method\.response\.header\.(.+)$/.exec(key)?.[1];
    const literal = /^'(.*)'$/.exec(source)?.[1];
    if (name !== undefined && literal !== undefined) headers[name] = literal;
  }
  return { status: response.statusCode, headers, body: Buffer.alloc(0) };
}

/** The Lambda proxy event for a request, as API Gateway builds it. */
function proxyEvent(
  api: RestApiModel,
  request: IncomingMessage,
  body: Buffer,
  matched: ApiMethodMatch,
  requestId: string,
  apiKey: string | null,
): APIGatewayProxyEvent {
  const url = requestUrl(request);
  // Maps, not object literals: a parameter may be called `__proto__` or `toString`.
  const headerValues = new Map<string, string[]>();
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i] as string;
    headerValues.set(name, [...(headerValues.get(name) ?? []), request.rawHeaders[i + 1] as string]);
  }
  const queryValues = new Map<string, string[]>();
  for (const [name, value] of url.searchParams)
    queryValues.set(name, [...(queryValues.get(name) ?? []), value]);
  const last = (values: Map<string, string[]>) =>
    Object.fromEntries([...values].map(([name, list]) => [name, list.at(-1) as string]));
  const hasQuery = queryValues.size > 0;
  const method = request.method ?? 'GET';
  // Under a binary media type matching the Content-Type (`*/*` matches all), the body arrives base64.
  const binary = isBinary(api.binaryMediaTypes, header(request, 'content-type'));
  const now = Date.now();
  return {
    resource: matched.resourcePath,
    path: url.pathname,
    httpMethod: method,
    headers: last(headerValues),
    multiValueHeaders: Object.fromEntries(headerValues),
    queryStringParameters: hasQuery ? last(queryValues) : null,
    multiValueQueryStringParameters: hasQuery ? Object.fromEntries(queryValues) : null,
    pathParameters: matched.pathParameters,
    stageVariables: null,
    body: body.length === 0 ? null : body.toString(binary ? 'base64' : 'utf8'),
    isBase64Encoded: body.length > 0 && binary,
    requestContext: {
      accountId: LOCAL_ACCOUNT,
      apiId: 'local',
      authorizer: undefined,
      domainName: header(request, 'host') ?? 'localhost',
      extendedRequestId: requestId,
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey,
        apiKeyId: apiKey === null ? null : 'local',
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        user: null,
        userAgent: header(request, 'user-agent') ?? null,
        userArn: null,
      },
      path: `/${api.stage}${url.pathname}`,
      protocol: `HTTP/${request.httpVersion}`,
      requestId,
      requestTimeEpoch: now,
      resourceId: matched.resourceId,
      resourcePath: matched.resourcePath,
      stage: api.stage,
    },
  };
}

/** Whether a function's result is one API Gateway can map; else it answers 502. */
function isProxyResult(result: unknown): result is APIGatewayProxyResult {
  const fields = asRecord(result);
  const scalars = (value: unknown) =>
    value === undefined ||
    value === null ||
    Object.values(asRecord(value)).every((entry) => ['string', 'number', 'boolean'].includes(typeof entry));
  return (
    Number.isInteger(Number(fields.statusCode)) &&
    (fields.body === undefined || fields.body === null || typeof fields.body === 'string') &&
    scalars(fields.headers) &&
    Object.values(asRecord(fields.multiValueHeaders)).every(Array.isArray)
  );
}

/**
 * A payload's size as Lambda counts it: its JSON. Measured only when its body could bring it near the
 * limit: a UTF-16 unit serializes to at most 6 bytes (`\uXXXX`), and headers are a few KB.
 */
function invocationBytes(payload: APIGatewayProxyEvent | APIGatewayProxyResult): number {
  if ((payload.body?.length ?? 0) * 6 < MAX_INVOCATION_BYTES - 256 * 1024) return 0;
  return Buffer.byteLength(JSON.stringify(payload));
}

const TIMED_OUT = Symbol('timed out');

/** The function's answer, or what API Gateway answers instead when it fails, is too slow or too large. */
async function proxyAnswer(
  api: RestApiModel,
  handler: ProxyHandler,
  event: APIGatewayProxyEvent,
  request: IncomingMessage,
  timeoutMs: number,
): Promise<Answer> {
  const deadline = Date.now() + timeoutMs;
  const context = {
    functionName: 'driftless-api-local',
    awsRequestId: event.requestContext.requestId,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  } as unknown as Context;
  let timer: NodeJS.Timeout | undefined;
  const invocation = handler(event, context);
  // A late failure has no one left to answer: API Gateway has given up on it.
  invocation.catch(() => undefined);
  let result: APIGatewayProxyResult | typeof TIMED_OUT;
  try {
    result = await Promise.race([
      invocation,
      new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
      }),
    ]);
  } catch {
    return gatewayAnswer(api, 'DEFAULT_5XX', request);
  } finally {
    clearTimeout(timer);
  }
  if (result === TIMED_OUT) return gatewayAnswer(api, 'INTEGRATION_TIMEOUT', request);
  if (!isProxyResult(result) || invocationBytes(result) > MAX_INVOCATION_BYTES)
    return gatewayAnswer(api, 'DEFAULT_5XX', request);
  const headers: Record<string, string | string[]> = {};
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {}))
    headers[name] = values.map(String);
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  const body = result.body ?? '';
  // A base64 result is decoded only for a client accepting a binary media type (its first Accept entry).
  const decode = result.isBase64Encoded === true && isBinary(api.binaryMediaTypes, header(request, 'accept'));
  return {
    status: Number(result.statusCode),
    headers,
    body: Buffer.from(body, decode ? 'base64' : 'utf8'),
  };
}

/**
 * The local API Gateway: the REST API of the synthesized template, in front of `handler` as its Lambda
 * proxy integration. Static mounts are tried first, for GETs.
 */
export async function startApiGateway(
  handler: ProxyHandler,
  options: ApiGatewayOptions,
): Promise<LocalApiServer> {
  const api = readRestApi(options.template);
  const mounts = options.mounts ?? [];
  const answer = async (request: IncomingMessage, requestId: string): Promise<Answer> => {
    const body = await readBody(request, MAX_REQUEST_BYTES);
    if (body === null) return gatewayAnswer(api, 'REQUEST_TOO_LARGE', request);
    const matched = selectMethod(api, request.method ?? 'GET', requestUrl(request).pathname);
    // An unknown path or method answers as a missing signature would: AWS does not say which it was.
    if (matched === null) return gatewayAnswer(api, 'MISSING_AUTHENTICATION_TOKEN', request);
    const { method } = matched;
    // SigV4 signatures are not verified locally; an unsigned request is refused as in AWS.
    if (
      method.authorizationType === 'AWS_IAM' &&
      !/AWS4-HMAC-SHA256/.test(header(request, 'authorization') ?? '')
    )
      return gatewayAnswer(api, 'MISSING_AUTHENTICATION_TOKEN', request);
    const key = header(request, 'x-api-key');
    if (method.apiKeyRequired && key !== options.apiKey)
      return gatewayAnswer(api, 'INVALID_API_KEY', request);
    if (method.integration.type === 'MOCK') return mockAnswer(api, method.integration, request);
    const event = proxyEvent(
      api,
      request,
      body,
      matched,
      requestId,
      method.apiKeyRequired ? (key ?? null) : null,
    );
    // Lambda refuses an invocation whose event is above 6 MB (a binary body grows by a third in base64).
    if (invocationBytes(event) > MAX_INVOCATION_BYTES)
      return gatewayAnswer(api, 'REQUEST_TOO_LARGE', request);
    const timeoutMs =
      options.integrationTimeoutMs ?? method.integration.timeoutMs ?? DEFAULT_INTEGRATION_TIMEOUT_MS;
    return proxyAnswer(api, handler, event, request, timeoutMs);
  };
  const server = createServer(async (request, response) => {
    try {
      if (request.method === 'GET' && (await serveStatic(mounts, requestUrl(request).pathname, response)))
        return;
      const requestId = randomUUID();
      const { status, headers, body } = await answer(request, requestId);
      response.writeHead(status, { ...headers, 'x-amzn-RequestId': requestId });
      response.end(body);
    } catch (error) {
      // A fault of this server, not of the function: answered as such, never as the function's answer.
      if (!response.headersSent) response.writeHead(500, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ message: `local API Gateway: ${(error as Error).message}` }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    // A busy port is an error for the caller, not an unhandled 'error' event.
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
