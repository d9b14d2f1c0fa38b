import { AthenaClient } from '@aws-sdk/client-athena';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { AthenaQueryEngine } from '../adapters/athena';
import { AthenaExportEngine } from '../adapters/athena-export';
import { StepFunctionsBatchRunner } from '../adapters/batch-runner';
import { S3ObjectStore } from '../adapters/object-store';
import type { Platform } from './platform';

/**
 * The AWS SDK's clients, made when first asked for. Endpoints come from the SDK's own variables
 * (`AWS_ENDPOINT_URL_<SERVICE>`), which is how the bundle test points a shipped bundle at emulators.
 */
export function awsPlatform(): Platform {
  let dynamo: DynamoDBClient | undefined;
  let kinesis: KinesisClient | undefined;
  let s3: S3Client | undefined;
  let athena: AthenaClient | undefined;
  const s3Client = () => (s3 ??= new S3Client({}));
  const athenaClient = () => (athena ??= new AthenaClient({}));
  return {
    get dynamo() {
      return (dynamo ??= new DynamoDBClient({}));
    },
    get kinesis() {
      // HTTP/1.1: PutRecords needs nothing of HTTP/2, and kinesalite speaks only HTTP/1.1.
      return (kinesis ??= new KinesisClient({ requestHandler: new NodeHttpHandler() }));
    },
    bucket: (name) => new S3ObjectStore(s3Client(), name),
    queryEngine: (place) =>
      new AthenaQueryEngine(athenaClient(), { workGroup: place.workGroup, database: place.database }),
    exportEngine: (place) =>
      new AthenaExportEngine(athenaClient(), s3Client(), {
        workGroup: place.workGroup,
        database: place.database,
        bucket: place.bucket,
        prefix: place.prefix,
      }),
    batchRunner: (stateMachineArn, executionOf) =>
      new StepFunctionsBatchRunner(new SFNClient({}), stateMachineArn, executionOf),
    now: Date.now,
  };
}
