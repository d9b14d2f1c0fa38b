import { AthenaClient } from '@aws-sdk/client-athena';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { FirehoseArchiveCompleteness } from '../adapters/archive-completeness';
import { AthenaQueryEngine } from '../adapters/athena';
import { AthenaExportEngine } from '../adapters/athena-export';
import { StepFunctionsBatchRunner } from '../adapters/batch-runner';
import { S3ObjectStore } from '../adapters/object-store';
import type { Platform } from './platform';

/** A value made when first asked for: a function that uses no S3 never creates an S3 client. */
function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => {
    made ??= { value: make() };
    return made.value;
  };
}

/**
 * The AWS SDK's clients. Endpoints come from the SDK's own variables (`AWS_ENDPOINT_URL_<SERVICE>`),
 * which is how the bundle test points a shipped bundle at emulators.
 */
export function awsPlatform(): Platform {
  const dynamo = once(() => new DynamoDBClient({}));
  // HTTP/1.1: PutRecords needs nothing of HTTP/2, and kinesalite speaks only HTTP/1.1.
  const kinesis = once(() => new KinesisClient({ requestHandler: new NodeHttpHandler() }));
  const s3 = once(() => new S3Client({}));
  const athena = once(() => new AthenaClient({}));
  const cloudWatch = once(() => new CloudWatchClient({}));
  return {
    get dynamo() {
      return dynamo();
    },
    get kinesis() {
      return kinesis();
    },
    bucket: (name) => new S3ObjectStore(s3(), name),
    queryEngine: (place) =>
      new AthenaQueryEngine(athena(), { workGroup: place.workGroup, database: place.database }),
    exportEngine: (place) =>
      new AthenaExportEngine(athena(), s3(), {
        workGroup: place.workGroup,
        database: place.database,
        bucket: place.bucket,
        prefix: place.prefix,
      }),
    batchRunner: (stateMachineArn, executionOf) =>
      new StepFunctionsBatchRunner(new SFNClient({}), stateMachineArn, executionOf),
    archiveCompleteness: (deliveryStreamName) =>
      new FirehoseArchiveCompleteness(cloudWatch(), deliveryStreamName, Date.now),
    now: Date.now,
  };
}
