import { createReadStream, type Dirent } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** The little of S3 the application needs: S3 in AWS, a folder of the local data directory locally. */
export interface ObjectStore {
  put(key: string, body: string | Uint8Array, contentType?: string): Promise<void>;
  get(key: string): Promise<Uint8Array>;
  /** An object's bytes as they arrive, chunk by chunk: for objects larger than a function's memory. */
  stream(key: string): AsyncIterable<Uint8Array>;
  /** Objects under a prefix, in key order. */
  list(prefix: string): Promise<StoredObject[]>;
}

export interface StoredObject {
  readonly key: string;
  /** Epoch milliseconds. */
  readonly lastModified: number;
  readonly size: number;
}

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, body: string | Uint8Array, contentType = 'application/json'): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
    );
  }

  async get(key: string): Promise<Uint8Array> {
    const { Body } = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    if (Body === undefined) throw new Error(`s3://${this.bucket}/${key} has no body`);
    return Body.transformToByteArray();
  }

  async *stream(key: string): AsyncIterable<Uint8Array> {
    const { Body } = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    if (Body === undefined) throw new Error(`s3://${this.bucket}/${key} has no body`);
    yield* Body as AsyncIterable<Uint8Array>;
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        objects.push({
          key: object.Key,
          lastModified: object.LastModified?.getTime() ?? 0,
          size: object.Size ?? 0,
        });
      }
      token = page.NextContinuationToken;
    } while (token !== undefined);
    return objects;
  }
}

export class FileObjectStore implements ObjectStore {
  constructor(private readonly root: string) {}

  async put(key: string, body: string | Uint8Array): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
  }

  async get(key: string): Promise<Uint8Array> {
    return readFile(this.pathOf(key));
  }

  stream(key: string): AsyncIterable<Uint8Array> {
    return createReadStream(this.pathOf(key));
  }

  async list(prefix: string): Promise<StoredObject[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(this.root, { recursive: true, withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const files = entries
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name))
      .map((path) => ({ path, key: relative(this.root, path).split(sep).join('/') }))
      .filter(({ key }) => key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return Promise.all(
      files.map(async ({ path, key }) => {
        const stats = await stat(path);
        return { key, lastModified: stats.mtimeMs, size: stats.size };
      }),
    );
  }

  private pathOf(key: string): string {
    if (key.split('/').some((part) => part === '..' || part === '')) throw new Error(`bad object key ${key}`);
    return join(this.root, ...key.split('/'));
  }
}
