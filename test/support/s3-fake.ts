import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, relative, sep } from 'node:path';
import { crc32 } from 'node:zlib';

/** What the SDK signs a request with: `AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request`. */
const CREDENTIAL = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request,/;

/** Checks a request is SigV4-signed for this region and service (the signature itself is not verified). */
export function signingProblem(request: IncomingMessage, region: string, service: string): string | null {
  const match = CREDENTIAL.exec(request.headers.authorization ?? '');
  if (match === null) return 'the request is not signed with SigV4';
  if (match[2] !== region) return `signed for region ${match[2]}, expected ${region}`;
  if (match[3] !== service) return `signed for service ${match[3]}, expected ${service}`;
  return null;
}

export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const xmlEscape = (text: string): string =>
  text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c,
  );

function sendError(response: ServerResponse, status: number, code: string, message: string): void {
  response.writeHead(status, { 'Content-Type': 'application/xml' });
  response.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message><RequestId>${randomUUID()}</RequestId></Error>`,
  );
}

export interface S3FakeObject {
  readonly key: string;
  /** The file holding the object's bytes. */
  readonly path: string;
}

/**
 * S3 on loopback, for PutObject, GetObject and ListObjectsV2 only, path-style (the SDK's choice for an
 * IP endpoint: `/<bucket>/<key>`). Objects are files under `<root>/<bucket>/`, so a query engine can read
 * a bucket as a folder. Only the given buckets exist; anything else is refused with S3's error codes.
 */
export class S3Fake {
  private readonly server = createServer((request, response) => {
    this.handle(request, response).catch((error: unknown) =>
      sendError(response, 500, 'InternalError', String(error)),
    );
  });
  endpoint = '';

  private constructor(
    private readonly root: string,
    private readonly buckets: ReadonlySet<string>,
    private readonly region: string,
  ) {}

  static async start(options: { root: string; buckets: readonly string[]; region: string }): Promise<S3Fake> {
    const fake = new S3Fake(options.root, new Set(options.buckets), options.region);
    for (const bucket of options.buckets) await mkdir(join(options.root, bucket), { recursive: true });
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.endpoint = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The folder holding a bucket's objects. */
  folderOf(bucket: string): string {
    if (!this.buckets.has(bucket)) throw new Error(`no bucket ${bucket}`);
    return join(this.root, bucket);
  }

  /** Stores an object as a PutObject would (for what AWS services, not our functions, write). */
  async put(bucket: string, key: string, body: Uint8Array | string): Promise<void> {
    const path = this.pathOf(bucket, key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
  }

  async get(bucket: string, key: string): Promise<Buffer> {
    return readFile(this.pathOf(bucket, key));
  }

  /** A bucket's objects under a prefix, in key order. */
  async list(bucket: string, prefix = ''): Promise<S3FakeObject[]> {
    const folder = this.folderOf(bucket);
    const entries = await readdir(folder, { recursive: true, withFileTypes: true });
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => {
        const path = join(entry.parentPath, entry.name);
        return { key: relative(folder, path).split(sep).join('/'), path };
      })
      .filter(({ key }) => key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pathOf(bucket: string, key: string): string {
    // Keys that are not plain relative paths have no file; none of ours is like that.
    if (key === '' || key.split('/').some((part) => part === '' || part === '.' || part === '..'))
      throw new Error(`the fake cannot store key ${JSON.stringify(key)}`);
    return join(this.folderOf(bucket), ...key.split('/'));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://s3.local');
    const [bucketPart = '', ...keyParts] = url.pathname.slice(1).split('/');
    const bucket = decodeURIComponent(bucketPart);
    const key = keyParts.map(decodeURIComponent).join('/');
    const body = await readBody(request);
    const method = request.method ?? 'GET';
    const unsigned = signingProblem(request, this.region, 's3');
    if (unsigned !== null) return sendError(response, 403, 'AccessDenied', unsigned);
    if (!this.buckets.has(bucket))
      return sendError(response, 404, 'NoSuchBucket', `The specified bucket does not exist: ${bucket}`);
    if (method === 'PUT' && key !== '') return this.putObject(request, response, bucket, key, body);
    if (method === 'GET' && key !== '') return this.getObject(response, bucket, key);
    if (method === 'GET' && url.searchParams.get('list-type') === '2')
      return this.listObjectsV2(response, bucket, url.searchParams);
    return sendError(
      response,
      501,
      'NotImplemented',
      `the fake has no ${method} ${url.pathname}${url.search}`,
    );
  }

  private async putObject(
    request: IncomingMessage,
    response: ServerResponse,
    bucket: string,
    key: string,
    body: Buffer,
  ): Promise<void> {
    const sha256 = request.headers['x-amz-content-sha256'];
    if (typeof sha256 === 'string' && sha256.startsWith('STREAMING-'))
      return sendError(response, 501, 'NotImplemented', `the fake reads no ${sha256} (aws-chunked) bodies`);
    if (sha256 !== undefined && sha256 !== 'UNSIGNED-PAYLOAD') {
      const actual = createHash('sha256').update(body).digest('hex');
      if (actual !== sha256)
        return sendError(response, 400, 'XAmzContentSHA256Mismatch', 'the body does not match its SHA-256');
    }
    const algorithm = request.headers['x-amz-sdk-checksum-algorithm'];
    if (algorithm !== undefined && algorithm !== 'CRC32')
      return sendError(response, 501, 'NotImplemented', `the fake checks CRC32 only, not ${algorithm}`);
    const checksum = request.headers['x-amz-checksum-crc32'];
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    if (checksum !== undefined && checksum !== crc.toString('base64'))
      return sendError(response, 400, 'BadDigest', 'the CRC32 checksum does not match the body');
    await this.put(bucket, key, body);
    response.writeHead(200, { ETag: `"${createHash('md5').update(body).digest('hex')}"` });
    response.end();
  }

  private async getObject(response: ServerResponse, bucket: string, key: string): Promise<void> {
    let body: Buffer;
    try {
      body = await this.get(bucket, key);
    } catch {
      return sendError(response, 404, 'NoSuchKey', 'The specified key does not exist.');
    }
    const info = await stat(this.pathOf(bucket, key));
    response.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': body.length,
      'Last-Modified': info.mtime.toUTCString(),
      ETag: `"${createHash('md5').update(body).digest('hex')}"`,
    });
    response.end(body);
  }

  private async listObjectsV2(
    response: ServerResponse,
    bucket: string,
    query: URLSearchParams,
  ): Promise<void> {
    if (query.has('delimiter') || query.get('encoding-type') === 'url')
      return sendError(response, 501, 'NotImplemented', 'the fake lists with no delimiter or encoding type');
    const prefix = query.get('prefix') ?? '';
    const maxKeys = Math.min(Number(query.get('max-keys') ?? 1000), 1000);
    const after = query.get('continuation-token') ?? query.get('start-after') ?? '';
    const matching = (await this.list(bucket, prefix)).filter(({ key }) => key > after);
    const page = matching.slice(0, maxKeys);
    const truncated = matching.length > page.length;
    const contents = await Promise.all(
      page.map(async ({ key, path }) => {
        const info = await stat(path);
        return `<Contents><Key>${xmlEscape(key)}</Key><LastModified>${info.mtime.toISOString()}</LastModified><Size>${info.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
      }),
    );
    response.writeHead(200, { 'Content-Type': 'application/xml' });
    response.end(
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${contents.join('')}${
        // The token is the last key given: opaque to the client, as S3's is.
        truncated ? `<NextContinuationToken>${xmlEscape(page.at(-1)?.key ?? '')}</NextContinuationToken>` : ''
      }</ListBucketResult>`,
    );
  }
}
