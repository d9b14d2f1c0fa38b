import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { BatchRunner } from '../functions/adapters/batch-runner';
import type { DuckDbQueryEngine } from '../functions/adapters/duckdb';
import { DuckDbExportEngine } from '../functions/adapters/duckdb-export';
import { FileObjectStore } from '../functions/adapters/object-store';
import type { Platform } from '../functions/commons/platform';

export interface LocalPlatformOptions {
  /** The SDK clients, pointed at dynalite and kinesalite. */
  readonly dynamo: DynamoDBClient;
  readonly kinesis: KinesisClient;
  /** Each bucket is a folder of this one, named as the template's bucket resolves locally. */
  readonly bucketsDir: string;
  /** Athena's stand-in: `raw_events` over the archive bucket's folder. @default none: a function that queries fails */
  readonly engine?: DuckDbQueryEngine;
  /** Where the local server serves a bucket folder from (export downloads). @default file URLs */
  readonly downloadBaseUrl?: (bucket: string, prefix: string) => string;
  /** Step Functions' stand-in, made once the batch functions are built. @default none: starting a run fails */
  readonly batchRunner?: () => BatchRunner;
  readonly now?: () => number;
}

/** The local platform: a folder of the data directory for a bucket. */
export const bucketDir = (bucketsDir: string, bucket: string): string => join(bucketsDir, bucket);

/**
 * The services as the local run has them: the same SDK clients pointed at the emulators for DynamoDB
 * and Kinesis; folders for S3 buckets; DuckDB for Athena (the same SQL text); the synthesized state
 * machine run in-process for Step Functions.
 */
export function localPlatform(options: LocalPlatformOptions): Platform {
  const engine = () => {
    if (options.engine === undefined) throw new Error('this local platform has no query engine');
    return options.engine;
  };
  return {
    dynamo: options.dynamo,
    kinesis: options.kinesis,
    bucket: (name) => new FileObjectStore(bucketDir(options.bucketsDir, name)),
    queryEngine: engine,
    exportEngine: (place) => {
      const dir = join(bucketDir(options.bucketsDir, place.bucket), place.prefix);
      const downloads = options.downloadBaseUrl;
      return new DuckDbExportEngine(engine(), dir, () =>
        downloads === undefined ? pathToFileURL(dir).href : downloads(place.bucket, place.prefix),
      );
    },
    batchRunner: () => {
      if (options.batchRunner === undefined) throw new Error('this local platform runs no state machine');
      return options.batchRunner();
    },
    now: options.now ?? Date.now,
  };
}
