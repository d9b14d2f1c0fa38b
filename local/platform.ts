import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { ArchiveCompleteness } from '../functions/adapters/archive-completeness';
import type { BatchRunner } from '../functions/adapters/batch-runner';
import type { DuckDbQueryEngine } from '../functions/adapters/duckdb';
import { DuckDbExportEngine } from '../functions/adapters/duckdb-export';
import { FileObjectStore, type ObjectStore, type StoredObject } from '../functions/adapters/object-store';
import type { Platform } from '../functions/commons/platform';

export interface LocalPlatformOptions {
  /** The SDK clients, pointed at dynalite and kinesalite. */
  readonly dynamo: DynamoDBClient;
  readonly kinesis: KinesisClient;
  /** Each bucket is a folder of this one, named as the template's bucket resolves locally. */
  readonly bucketsDir: string;
  /** Athena's stand-in: one `events_<catalog>` view per catalog over the archive bucket's folder. @default none: a function that queries fails */
  readonly engine?: DuckDbQueryEngine;
  /** Where the local server serves a bucket folder from (export downloads). @default file URLs */
  readonly downloadBaseUrl?: (bucket: string, prefix: string) => string;
  /** Step Functions' stand-in, made once the batch functions are built. @default none: starting a run fails */
  readonly batchRunner?: () => BatchRunner;
  /**
   * What S3 does once an object is put: its notification (to EventBridge, `local/eventbridge.ts`).
   * Awaited by the put, so what follows a put sees its effect. @default none
   */
  readonly objectCreated?: (
    bucket: string,
    object: { key: string; body: string | Uint8Array },
  ) => Promise<void>;
  /**
   * How far the archive is complete: the local Firehose's delivered position (`local/firehose.ts`).
   * @default complete through now: what is archived is written by the caller before it plans
   */
  readonly archiveCompleteness?: () => ArchiveCompleteness;
  readonly now?: () => number;
}

/** The local platform: a folder of the data directory for a bucket. */
export const bucketDir = (bucketsDir: string, bucket: string): string => join(bucketsDir, bucket);

/** A bucket folder whose puts notify as S3 notifies EventBridge. */
function notifyingBucket(
  name: string,
  store: ObjectStore,
  objectCreated: NonNullable<LocalPlatformOptions['objectCreated']>,
): ObjectStore {
  return {
    put: async (key, body, contentType) => {
      await store.put(key, body, contentType);
      await objectCreated(name, { key, body });
    },
    get: (key) => store.get(key),
    stream: (key) => store.stream(key),
    list: (prefix) => store.list(prefix),
  };
}

/**
 * The services as the local run has them: the same SDK clients pointed at the emulators for DynamoDB
 * and Kinesis; folders for S3 buckets (announcing each put, as S3 does to EventBridge, when given);
 * DuckDB for Athena (the same SQL text); the synthesized state machine run in-process for Step Functions;
 * the local Firehose's delivered position for Firehose's metrics.
 */
export function localPlatform(options: LocalPlatformOptions): Platform {
  const engine = () => {
    if (options.engine === undefined) throw new Error('this local platform has no query engine');
    return options.engine;
  };
  return {
    dynamo: options.dynamo,
    kinesis: options.kinesis,
    bucket: (name) => {
      const store = new FileObjectStore(bucketDir(options.bucketsDir, name));
      return options.objectCreated === undefined
        ? store
        : notifyingBucket(name, store, options.objectCreated);
    },
    queryEngine: engine,
    exportEngine: (place) => {
      const dir = join(bucketDir(options.bucketsDir, place.bucket), place.prefix);
      const downloads = options.downloadBaseUrl;
      const objectCreated = options.objectCreated;
      return new DuckDbExportEngine(
        engine(),
        dir,
        () => (downloads === undefined ? pathToFileURL(dir).href : downloads(place.bucket, place.prefix)),
        place.prefix,
        // S3 announces the file as it does an UNLOAD's: the export hasher records its sha256.
        async (key, file) => objectCreated?.(place.bucket, { key, body: await readFile(file) }),
      );
    },
    batchRunner: () => {
      if (options.batchRunner === undefined) throw new Error('this local platform runs no state machine');
      return options.batchRunner();
    },
    archiveCompleteness: () =>
      options.archiveCompleteness?.() ?? { completeThrough: async () => (options.now ?? Date.now)() },
    now: options.now ?? Date.now,
  };
}

/**
 * The platform with every listing of one bucket reported: how a test or the benchmark sees that a batch
 * run lists nothing of the archive.
 */
export function withListingsObserved(
  platform: Platform,
  bucket: string,
  onList: (prefix: string, listed: readonly StoredObject[]) => void,
): Platform {
  return {
    ...platform,
    bucket: (name) => {
      const store = platform.bucket(name);
      if (name !== bucket) return store;
      return {
        put: (key, body, type) => store.put(key, body, type),
        get: (key) => store.get(key),
        stream: (key) => store.stream(key),
        list: async (prefix) => {
          const listed = await store.list(prefix);
          onList(prefix, listed);
          return listed;
        },
      };
    },
  };
}
