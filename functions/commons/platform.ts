import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { ArchiveCompleteness } from '../adapters/archive-completeness';
import type { BatchRunner } from '../adapters/batch-runner';
import type { ExportEngine } from '../adapters/exports';
import type { ObjectStore } from '../adapters/object-store';
import type { QueryEngine } from '../adapters/query-engine';

/** Where Athena runs a function's queries: the workgroup and the Glue database of the `events_<catalog>` tables. */
export interface QueryPlace {
  readonly workGroup: string;
  readonly database: string;
}

/**
 * The services a function reaches, by the names its environment gives. In Lambda every one is the AWS
 * SDK's (`aws-platform.ts`); in the local run DynamoDB and Kinesis are the same SDK clients pointed at
 * the emulators, and S3, Athena, Step Functions and Firehose's measures are local stand-ins (`local/platform.ts`). Everything
 * else a function is built from (names, retention, grace, the service dimension) comes from its
 * environment, which CDK sets and the local run reads from the synthesized template.
 */
export interface Platform {
  readonly dynamo: DynamoDBClient;
  readonly kinesis: KinesisClient;
  bucket(name: string): ObjectStore;
  queryEngine(place: QueryPlace): QueryEngine;
  exportEngine(place: QueryPlace & { readonly bucket: string; readonly prefix: string }): ExportEngine;
  batchRunner(stateMachineArn: string, executionOf: (runId: string) => Promise<string | null>): BatchRunner;
  /** How far the archive the delivery stream writes is complete (Firehose's metrics in AWS). */
  archiveCompleteness(deliveryStreamName: string): ArchiveCompleteness;
  readonly now: () => number;
}

/** For a function that reaches no service (the Firehose transform): any use is a mistake, said as such. */
export const NO_SERVICES: Platform = new Proxy({} as Platform, {
  get: (_target, name) => {
    throw new Error(`this function reaches no services, yet asked for ${String(name)}`);
  },
});
