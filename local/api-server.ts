import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type { ServingApi } from '../functions/api/app';

/** API Gateway REST refuses payloads above 10 MB before the Lambda sees them; so does this server. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.csv': 'text/csv; charset=utf-8',
  '.parquet': 'application/vnd.apache.parquet',
};

/** A URL prefix served from a folder (the dashboard page, export downloads). */
export interface StaticMount {
  readonly prefix: string;
  readonly dir: string;
}

export interface LocalApiServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** The request's URL; `//x` is a path here, not a host as `new URL('//x', base)` would read it. */
const requestUrl = (request: IncomingMessage): URL => new URL(`http://localhost${request.url ?? '/'}`);

/** The API Gateway REST proxy event for a request, as API Gateway would build it. */
export function toProxyEvent(request: IncomingMessage, body: Buffer): APIGatewayProxyEvent {
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
  const headers = last(headerValues);
  const multiValueHeaders = Object.fromEntries(headerValues);
  const query = last(queryValues);
  const multiValueQuery = Object.fromEntries(queryValues);
  const hasQuery = queryValues.size > 0;
  const method = request.method ?? 'GET';
  return {
    httpMethod: method,
    path: url.pathname,
    resource: url.pathname,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiValueQuery : null,
    pathParameters: null,
    stageVariables: null,
    body: body.length === 0 ? null : body.toString('base64'),
    isBase64Encoded: body.length > 0,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      domainName: 'localhost',
      httpMethod: method,
      identity: { sourceIp: request.socket.remoteAddress ?? '127.0.0.1' } as never,
      path: url.pathname,
      protocol: 'HTTP/1.1',
      requestId: crypto.randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: url.pathname,
      stage: 'local',
    },
  };
}

const LAMBDA_CONTEXT = {
  functionName: 'driftless-api-local',
  awsRequestId: 'local',
  getRemainingTimeInMillis: () => 29_000,
} as unknown as Context;

async function readBody(request: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_PAYLOAD_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
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
    const file = normalize(join(mount.dir, relative));
    // Never outside the mounted folder.
    if (!file.startsWith(normalize(mount.dir) + sep)) return false;
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

/**
 * The local stand-in for API Gateway: each request becomes the proxy event API Gateway would send, and
 * the same router the Lambda handler uses answers it. Static mounts are tried first, for GETs.
 */
export async function startApiServer(
  api: ServingApi,
  options: { readonly port?: number; readonly host?: string; readonly mounts?: readonly StaticMount[] } = {},
): Promise<LocalApiServer> {
  const mounts = options.mounts ?? [];
  const server = createServer(async (request, response) => {
    try {
      const path = requestUrl(request).pathname;
      if (request.method === 'GET' && (await serveStatic(mounts, path, response))) return;
      const body = await readBody(request);
      if (body === null) {
        response.writeHead(413, { 'Content-Type': 'application/json' });
        response.end(
          JSON.stringify({ statusCode: 413, error: 'RequestEntityTooLarge', message: 'payload above 10 MB' }),
        );
        return;
      }
      const result = await api.handle(toProxyEvent(request, body), LAMBDA_CONTEXT);
      const headers: Record<string, string | string[]> = {
        ...(result.multiValueHeaders as Record<string, string[]>),
      };
      for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
      response.writeHead(result.statusCode, headers);
      response.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
    } catch (error) {
      // API Gateway answers 502 when the integration fails; so does this server.
      if (!response.headersSent) response.writeHead(502, { 'Content-Type': 'application/json' });
      response.end(
        JSON.stringify({ statusCode: 502, error: 'BadGateway', message: (error as Error).message }),
      );
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
