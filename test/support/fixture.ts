import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createTable, type Emulators, LOCAL_REGION, startEmulators } from '../../local/emulators';

/** Where integration tests run: the in-process emulators, or LocalStack in a container. */
export type TestTarget = 'emulators' | 'localstack';
export const TEST_TARGETS: readonly TestTarget[] = ['emulators', 'localstack'];

/** The newest LocalStack image that starts without an auth token; later ones need LOCALSTACK_AUTH_TOKEN. */
export const DEFAULT_LOCALSTACK_IMAGE = 'localstack/localstack:4.14.0';

/** What testcontainers says when there is no Docker (or compatible) runtime to start a container in. */
const NO_CONTAINER_RUNTIME = /Could not find a working container runtime strategy/;

export class TestTargetError extends Error {
  override readonly name = 'TestTargetError';
}

/** `DRIFTLESS_TEST_TARGET`: `emulators` (default) or `localstack`. */
export function testTarget(env: NodeJS.ProcessEnv = process.env): TestTarget {
  const value = env.DRIFTLESS_TEST_TARGET?.trim() || 'emulators';
  if (!TEST_TARGETS.includes(value as TestTarget)) {
    throw new TestTargetError(
      `DRIFTLESS_TEST_TARGET: expected one of ${TEST_TARGETS.join(', ')}, got '${value}'`,
    );
  }
  return value as TestTarget;
}

export interface LocalStackOptions {
  readonly image: string;
  readonly authToken?: string;
}

/** The LocalStack image (`LOCALSTACK_IMAGE`, pinned by default) and auth token (`LOCALSTACK_AUTH_TOKEN`). */
export function localStackOptions(env: NodeJS.ProcessEnv = process.env): LocalStackOptions {
  const authToken = env.LOCALSTACK_AUTH_TOKEN?.trim();
  return {
    image: env.LOCALSTACK_IMAGE?.trim() || DEFAULT_LOCALSTACK_IMAGE,
    ...(authToken ? { authToken } : {}),
  };
}

/**
 * Starts LocalStack (DynamoDB, Kinesis, S3) and returns the same clients and endpoints as the emulators.
 * Athena stays on DuckDB: it is not in LocalStack's free tier.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<Emulators> {
  // Loaded only when asked for: the default path never touches testcontainers.
  const { LocalstackContainer } = await import('@testcontainers/localstack');
  const container = await new LocalstackContainer(options.image)
    .withEnvironment({
      SERVICES: 'dynamodb,kinesis,s3',
      ...(options.authToken ? { LOCALSTACK_AUTH_TOKEN: options.authToken } : {}),
    })
    .start();
  const endpoint = container.getConnectionUri();
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  const common = { region: LOCAL_REGION, credentials, endpoint };
  const dynamo = new DynamoDBClient(common);
  // HTTP/1.1, as for kinesalite, so both targets exercise the same client configuration.
  const kinesis = new KinesisClient({ ...common, requestHandler: new NodeHttpHandler() });
  return {
    dynamoEndpoint: endpoint,
    kinesisEndpoint: endpoint,
    dynamo,
    kinesis,
    environment: {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      AWS_ENDPOINT_URL_KINESIS: endpoint,
      AWS_ENDPOINT_URL_S3: endpoint,
    },
    async close() {
      dynamo.destroy();
      kinesis.destroy();
      await container.stop();
    },
  };
}

export type Fixture = Emulators & {
  /** Where these tests actually run (LocalStack may have fallen back to the emulators). */
  readonly target: TestTarget;
  /** A fresh table named at random, ACTIVE when this resolves: readable and writable at once. */
  newTable(): Promise<string>;
};

export interface FixtureOptions {
  /**
   * Run on the in-process emulators whatever the target, for this reason (e.g. the test needs Kinesis
   * bisect-on-error or Scheduler firing, which LocalStack lacks); said once when the target is LocalStack.
   */
  readonly emulatorsOnlyFor?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** @default startLocalStack */
  readonly startLocalStack?: (options: LocalStackOptions) => Promise<Emulators>;
  /** Where the one-line notices go. @default console.warn */
  readonly notice?: (line: string) => void;
}

/**
 * The one fixture integration tests get their endpoints from: the in-process emulators by default,
 * LocalStack with `DRIFTLESS_TEST_TARGET=localstack`. Without a container runtime it says so in one
 * line and runs on the emulators; the tests do not change either way.
 */
export async function startFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const env = options.env ?? process.env;
  const notice = options.notice ?? ((line: string) => console.warn(line));
  let target = testTarget(env);
  let services: Emulators | undefined;
  if (target === 'localstack' && options.emulatorsOnlyFor !== undefined) {
    notice(`driftless tests: ${options.emulatorsOnlyFor}: runs on the in-process emulators, not LocalStack`);
    target = 'emulators';
  }
  if (target === 'localstack') {
    const localStack = localStackOptions(env);
    try {
      services = await (options.startLocalStack ?? startLocalStack)(localStack);
    } catch (error) {
      if (!NO_CONTAINER_RUNTIME.test(String((error as Error).message ?? error))) throw error;
      notice(
        `driftless tests: DRIFTLESS_TEST_TARGET=localstack but no container runtime was found (${localStack.image} not started); running on the in-process emulators`,
      );
      target = 'emulators';
    }
  }
  const started = services ?? (await startEmulators());
  return {
    ...started,
    target,
    async newTable() {
      const name = `driftless-${randomUUID().slice(0, 8)}`;
      await createTable(started.dynamo, name);
      return name;
    },
  };
}

export const quietLogger = () => new Logger({ serviceName: 'driftless-test', logLevel: 'SILENT' });
export const quietMetrics = () => new Metrics({ namespace: 'DriftlessTest', serviceName: 'driftless-test' });
