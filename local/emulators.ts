import type { AddressInfo, Server } from 'node:net';
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import { TABLE_ATTRIBUTES } from '../functions/core';

/** Emulators take any credentials; the SDK still wants some. */
export const LOCAL_REGION = 'us-east-1';
/** The account local ARNs are written in. */
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface Emulators {
  readonly dynamoEndpoint: string;
  readonly kinesisEndpoint: string;
  readonly dynamo: DynamoDBClient;
  readonly kinesis: KinesisClient;
  /** The variables that point the AWS SDK, and so the unchanged handlers, at these emulators. */
  readonly environment: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

async function listen(server: Server, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * Starts dynalite (DynamoDB) and kinesalite (Kinesis) in this process, on loopback. With `dataDir`
 * their data persists there between runs; without it, in memory.
 */
export async function startEmulators(
  options: { dataDir?: string; dynamoPort?: number; kinesisPort?: number } = {},
) {
  const dynamoServer: Server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.dataDir ? { path: `${options.dataDir}/dynamodb` } : {}),
  });
  const kinesisServer: Server = kinesalite({
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    shardLimit: 1000,
    ...(options.dataDir ? { path: `${options.dataDir}/kinesis` } : {}),
  });
  const dynamoEndpoint = await listen(dynamoServer, options.dynamoPort ?? 0);
  const kinesisEndpoint = await listen(kinesisServer, options.kinesisPort ?? 0);
  const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const emulators: Emulators = {
    dynamoEndpoint,
    kinesisEndpoint,
    dynamo: new DynamoDBClient({ ...common, endpoint: dynamoEndpoint }),
    // kinesalite speaks HTTP/1.1 only; the Kinesis client would use HTTP/2.
    kinesis: new KinesisClient({
      ...common,
      endpoint: kinesisEndpoint,
      requestHandler: new NodeHttpHandler(),
    }),
    environment: {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
      AWS_ENDPOINT_URL_KINESIS: kinesisEndpoint,
    },
    async close() {
      emulators.dynamo.destroy();
      emulators.kinesis.destroy();
      await Promise.all(
        [dynamoServer, kinesisServer].map(
          (server) => new Promise<void>((resolve) => server.close(() => resolve())),
        ),
      );
    },
  };
  return emulators;
}

/**
 * Creates the application's table as the CDK construct defines it (keys only: the rest is AWS-side),
 * and returns once it is ACTIVE: until then reads and writes fail with ResourceNotFoundException, even
 * on dynalite with `createTableMs: 0` (it answers CreateTable before it stores the ACTIVE status).
 */
export async function createTable(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  await dynamo.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: TABLE_ATTRIBUTES.partitionKey, AttributeType: 'S' },
        { AttributeName: TABLE_ATTRIBUTES.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: TABLE_ATTRIBUTES.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_ATTRIBUTES.sortKey, KeyType: 'RANGE' },
      ],
    }),
  );
  // Delays in seconds: poll every few milliseconds, as an emulator is ACTIVE almost at once.
  await waitUntilTableExists(
    { client: dynamo, minDelay: 0.01, maxDelay: 1, maxWaitTime: 60 },
    { TableName: tableName },
  );
}

export async function createStream(
  kinesis: KinesisClient,
  streamName: string,
  shardCount: number,
): Promise<void> {
  await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shardCount }));
  for (let attempt = 0; attempt < 100; attempt++) {
    const { StreamDescriptionSummary } = await kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName: streamName }),
    );
    if (StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`stream ${streamName} did not become ACTIVE`);
}
