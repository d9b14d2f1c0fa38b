import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { AthenaClient, GetQueryExecutionCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import type {
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  FirehoseTransformationEvent,
  FirehoseTransformationResult,
  KinesisStreamBatchResponse,
} from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogs, orderEvents } from '../../events';
import { executionArnOf } from '../../functions/adapters/batch-runner';
import { DynamoBatchStore } from '../../functions/adapters/dynamo-batch-store';
import { DynamoSpeedStore } from '../../functions/adapters/dynamo-speed-store';
import { DynamoExportJobs } from '../../functions/adapters/exports';
import { unpackRecord } from '../../functions/adapters/kinesis-aggregation';
import { archiveMarkerFunction } from '../../functions/batch/marker';
import type { DriftReport } from '../../functions/batch/reconcile';
import { ARCHIVE_EVENTS_PREFIX, archiveDayPrefix } from '../../functions/commons/layout';
import { METRICS_NAMESPACE, SERVICES } from '../../functions/commons/metrics';
import {
  compileJs,
  dayOf,
  deduplicateEvents,
  type EventRecord,
  type ViewDefinition,
  type ViewRow,
  ViewRows,
} from '../../functions/core';
import { FUNCTION_DEFINITIONS } from '../../functions/definitions';
import { exportHasherFunction } from '../../functions/exports/hasher';
import { matchApiMethod } from '../../local/api-server';
import { createStream, createTable, type Emulators, startEmulators } from '../../local/emulators';
import { objectCreatedEvent } from '../../local/eventbridge';
import {
  archiveLocationOf,
  functionNameOfArn,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  stateMachineArnOf,
  stateMachineDefinitionOf,
} from '../../local/template';
import { views } from '../../views';
import { AthenaFake } from '../support/athena-fake';
import { CloudWatchFake } from '../support/cloudwatch-fake';
import {
  type DeployedFunction,
  type DeployedStack,
  synthesizeDeployedStack,
} from '../support/deployed-stack';
import { sentOrders, withType } from '../support/events';
import { kinesisEvent, kinesisRecord, packedData, sequenceNumber } from '../support/kinesis-factory';
import {
  type AssetReport,
  environmentBytes,
  inspectAsset,
  LAMBDA_LIMITS,
  LocalLambda,
  type LocalLambdaOptions,
} from '../support/lambda-runtime';
import { S3Fake } from '../support/s3-fake';
import { emittedMetrics, metricKey, watchedMetrics } from '../support/watched-metrics';

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
/** What the Lambda runtime provides besides the bundle: the SDK, nothing else. */
const SDK_DIR = fileURLToPath(new URL('../../node_modules/@aws-sdk', import.meta.url));
const REPOSITORY = fileURLToPath(new URL('../..', import.meta.url));
/** Step Functions' limit on a state's input and output. */
const STATE_PAYLOAD_BYTES = 256 * 1024;
const ATHENA_SYNC = /^arn:aws:states:::athena:startQueryExecution\.sync$/;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
// Three hours before this hour: every bucket settled for both runs, no speed item near its TTL.
const T0 = Date.now() - (Date.now() % HOUR) - 3 * HOUR;

const ORDERS: readonly EventRecord[] = sentOrders([
  { id: 'a1', ts: T0 + 5 * MINUTE, country: 'DE', amount: 1000, discount: 100, status: 'paid' },
  { id: 'a2', ts: T0 + 10 * MINUTE, country: 'FR', amount: 2500, status: 'paid' },
  { id: 'a3', ts: T0 + 20 * MINUTE, country: 'DE', amount: 500, status: 'refunded' },
  { id: 'b1', ts: T0 + 65 * MINUTE, country: 'DE', amount: 4000, status: 'paid' },
  { id: 'b2', ts: T0 + 70 * MINUTE, country: 'FR', amount: 1200, discount: 200, status: 'paid' },
]);
/** b1 sent again by its producer: the speed layer counts it, the batch layer removes it. */
const DUPLICATE = ORDERS[3] as EventRecord;
const INVALID = withType(orderEvents, { id: 'bad-1', ts: T0 + 30 * MINUTE, amount: -5, status: 'paid' });
const RECORDS: readonly EventRecord[] = [...ORDERS, DUPLICATE, INVALID];
const ACCEPTED = [...ORDERS, DUPLICATE];
/** What a view counts of the accepted events: they are orders, which count in the order views only. */
const countedIn = (view: ViewDefinition) => (view.events.name === orderEvents.name ? ACCEPTED : []);
const SHARD_ID = 'shardId-000000000000';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type State = { Type: string; Resource?: string; ItemProcessor?: { States: Record<string, State> } };

let root: string;
let stack: DeployedStack;
let assets: Map<string, AssetReport>;
let emulators: Emulators;
let s3: S3Fake;
let athena: AthenaFake;
let cloudWatch: CloudWatchFake;
let athenaClient: AthenaClient;
const lambdas = new Map<string, LocalLambda>();
const invokedWith = new Map<string, string[]>();

const sorted = (view: ViewDefinition, rows: Iterable<ViewRow>) => new ViewRows(view).addAll(rows).sorted();
const inRange = (rows: readonly ViewRow[], from: number, to: number) =>
  rows.filter((row) => row.bucket >= from && row.bucket < to);

const logicalIdsOf = (type: string): string[] =>
  Object.entries(stack.template.Resources)
    .filter(([, resource]) => resource.Type === type)
    .map(([logicalId]) => logicalId);

/** The logical id of the one resource of a type. */
function logicalIdOf(type: string): string {
  const [logicalId, ...others] = logicalIdsOf(type);
  if (logicalId === undefined || others.length > 0) throw new Error(`expected one ${type}`);
  return logicalId;
}

/** The local name of the one resource of a type. */
const localName = (type: string): string => stack.names.ref(logicalIdOf(type));

function functionNamed(name: string): DeployedFunction {
  const found = stack.functions.find((fn) => fn.name === name);
  if (found === undefined) throw new Error(`the template has no function ${name}`);
  return found;
}

/** Invokes a deployed function's bundle, noting what it was invoked with for the report. */
async function invoke<T>(fn: DeployedFunction, what: string, event: unknown): Promise<T> {
  const notes = invokedWith.get(fn.logicalId) ?? [];
  if (!notes.includes(what)) notes.push(what);
  invokedWith.set(fn.logicalId, notes);
  const lambda = lambdas.get(fn.logicalId);
  if (lambda === undefined) throw new Error(`${fn.name} was not started`);
  return lambda.invoke<T>(event);
}

/** What Lambda gives the function: its template variables, resolved to local names, and the platform's. */
function environmentOf(fn: DeployedFunction): Record<string, string> {
  // Metrics must be published for the alarm check to mean anything.
  if ('POWERTOOLS_METRICS_DISABLED' in fn.environment || 'POWERTOOLS_DEV' in fn.environment)
    throw new Error(`${fn.name} disables or redirects its metrics`);
  return {
    ...fn.environment,
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamoEndpoint,
    AWS_ENDPOINT_URL_KINESIS: emulators.kinesisEndpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_ATHENA: athena.endpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH: cloudWatch.endpoint,
    // No Step Functions here: a call fails at once (port 9 refuses), it never reaches AWS.
    AWS_ENDPOINT_URL_SFN: 'http://127.0.0.1:9',
  };
}

function startLambda(
  fn: DeployedFunction,
  overrides: Partial<LocalLambdaOptions> = {},
): Promise<LocalLambda> {
  return LocalLambda.start({
    name: fn.name,
    arn: fn.arn,
    assetDir: fn.assetDir,
    handler: fn.handler,
    environment: environmentOf(fn),
    timeoutSeconds: fn.timeoutSeconds,
    memoryMB: fn.memoryMB,
    sdkDir: SDK_DIR,
    workDir: join(root, 'lambda'),
    ...overrides,
  });
}

/** Every Task state of a definition, Map item processors included. */
function taskStates(states: Record<string, State>): [string, State][] {
  return Object.entries(states).flatMap(([name, state]) => [
    ...(state.Type === 'Task' ? [[name, state] as [string, State]] : []),
    ...(state.ItemProcessor ? taskStates(state.ItemProcessor.States) : []),
  ]);
}

/** As Step Functions runs `athena:startQueryExecution.sync`: start, poll, answer GetQueryExecution's output. */
async function runQuerySync(input: Json): Promise<Json> {
  const { QueryExecutionId } = await athenaClient.send(new StartQueryExecutionCommand(input as never));
  for (;;) {
    const { $metadata, ...output } = await athenaClient.send(
      new GetQueryExecutionCommand({ QueryExecutionId }),
    );
    const state = output.QueryExecution?.Status?.State;
    if (state === 'SUCCEEDED') return JSON.parse(JSON.stringify(output)) as Json;
    if (state === 'FAILED' || state === 'CANCELLED')
      throw Object.assign(new Error(output.QueryExecution?.Status?.StateChangeReason ?? state), {
        name: 'States.TaskFailed',
      });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Runs the synthesized batch state machine with aws-local-stepfunctions: each Lambda task invokes the
 * bundle of the function its Resource names, with exactly the input the machine passes; the Athena
 * `.sync` task queries the Athena fake. Resolves to each task state's outputs, in order.
 */
async function runStateMachine(input: Json): Promise<Map<string, Json[]>> {
  const definition = stateMachineDefinitionOf(stack.template, stack.names) as {
    States: Record<string, State>;
  };
  const outputs = new Map<string, Json[]>();
  const handlers: Record<string, (input: Json) => Promise<Json>> = {};
  for (const [name, state] of taskStates(definition.States)) {
    const resource = state.Resource ?? '';
    const functionName = functionNameOfArn(resource);
    const fn = functionName === null ? undefined : functionNamed(functionName);
    if (fn === undefined && !ATHENA_SYNC.test(resource))
      throw new Error(`state ${name}: no local ${resource}`);
    handlers[name] = async (taskInput) => {
      if (Buffer.byteLength(JSON.stringify(taskInput)) > STATE_PAYLOAD_BYTES)
        throw new Error(`state ${name}: input over Step Functions' 256 KB`);
      const output =
        fn === undefined
          ? await runQuerySync(taskInput)
          : await invoke<Json>(fn, 'the synthesized state machine, run twice', taskInput);
      if (Buffer.byteLength(JSON.stringify(output)) > STATE_PAYLOAD_BYTES)
        throw new Error(`state ${name}: output over Step Functions' 256 KB`);
      outputs.set(name, [...(outputs.get(name) ?? []), output]);
      return output;
    };
  }
  const machineArn = stateMachineArnOf(stack.template, stack.names);
  const executionName = randomUUID();
  const execution = new StateMachine(definition as never).run(input, {
    overrides: { taskResourceLocalHandlers: handlers },
    context: { Execution: { Id: executionArnOf(machineArn, executionName), Name: executionName } },
  });
  await execution.result;
  return outputs;
}

/**
 * The REST proxy event API Gateway sends the function for a request, from the deployed API: the method
 * it selects gives `resource` and `pathParameters`; with binary media types on, any body is base64.
 */
function apiEvent(
  method: string,
  path: string,
  options: { query?: Record<string, string>; headers?: Record<string, string>; body?: string } = {},
): APIGatewayProxyEvent {
  const matched = matchApiMethod(stack.template, method, path);
  if (matched === null) throw new Error(`no method of the API takes ${method} ${path}`);
  const integration = matched.method.integration.type;
  if (integration !== 'AWS_PROXY')
    throw new Error(`API Gateway answers ${method} ${path} itself (${integration})`);
  const stage = String(
    stack.template.Resources[logicalIdOf('AWS::ApiGateway::Stage')]?.Properties?.StageName,
  );
  const headers = {
    Host: 'abc123.execute-api.us-east-1.amazonaws.com',
    'X-Api-Key': 'local',
    ...options.headers,
  };
  const query = options.query ?? null;
  const resource = matched.resourcePath;
  return {
    resource,
    path,
    httpMethod: method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters: query,
    multiValueQueryStringParameters:
      query && Object.fromEntries(Object.entries(query).map(([name, value]) => [name, [value]])),
    pathParameters: matched.pathParameters,
    stageVariables: null,
    body: options.body === undefined ? null : Buffer.from(options.body).toString('base64'),
    isBase64Encoded: options.body !== undefined,
    requestContext: {
      accountId: LOCAL_ACCOUNT,
      apiId: 'abc123',
      authorizer: null,
      domainName: headers.Host,
      httpMethod: method,
      identity: { sourceIp: '127.0.0.1', apiKey: 'local' } as never,
      path: `/${stage}${path}`,
      protocol: 'HTTP/1.1',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: resource,
      stage,
    },
  };
}

/** A proxy answer's body as the client receives it: base64 and gzip undone. */
function bodyOf(result: APIGatewayProxyResult): string {
  const bytes = Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  const encoding = Object.entries(result.headers ?? {}).find(
    ([name]) => name.toLowerCase() === 'content-encoding',
  );
  return (encoding?.[1] === 'gzip' ? gunzipSync(bytes) : bytes).toString('utf8');
}

const headerOf = (result: APIGatewayProxyResult, name: string): unknown =>
  Object.entries(result.headers ?? {}).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];

async function streamRecords(kinesis: KinesisClient, streamName: string): Promise<EventRecord[]> {
  const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  const records: EventRecord[] = [];
  for (const shard of Shards) {
    const { ShardIterator } = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const { Records = [] } = await kinesis.send(new GetRecordsCommand({ ShardIterator }));
    // A record holds one event, or several packed (KPL aggregation).
    for (const record of Records) {
      const data = record.Data ?? new Uint8Array();
      for (const event of unpackRecord(data)?.map((packed) => packed.data) ?? [data])
        records.push(JSON.parse(Buffer.from(event).toString('utf8')));
    }
  }
  return records;
}

describe('the bundles cdk deploy ships, run as Lambda runs them', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'driftless-bundles-'));
    stack = synthesizeDeployedStack(join(root, 'cdk.out'));
    assets = new Map();
    for (const fn of stack.functions) assets.set(fn.logicalId, await inspectAsset(fn.assetDir));
    emulators = await startEmulators();
    await createTable(emulators.dynamo, localName('AWS::DynamoDB::GlobalTable'));
    await createStream(emulators.kinesis, localName('AWS::Kinesis::Stream'), 2);
    const buckets = logicalIdsOf('AWS::S3::Bucket').map((logicalId) => stack.names.ref(logicalId));
    s3 = await S3Fake.start({ root: join(root, 's3'), buckets, region: LOCAL_REGION });
    athena = await AthenaFake.start({
      catalogs,
      region: LOCAL_REGION,
      // The batch layer's work group (exports run in their own, which no bundle here queries).
      workGroup: stack.names.ref(
        logicalIdsOf('AWS::Athena::WorkGroup').find((id) => id.startsWith('ArchiveWorkGroup')) as string,
      ),
      database: localName('AWS::Glue::Database'),
      s3,
      tableLocation: archiveLocationOf(stack.template, stack.names),
    });
    // Firehose's measures of the archive delivery: caught up a few minutes ago (the runs plan hours back).
    const deliveryStream = localName('AWS::KinesisFirehose::DeliveryStream');
    cloudWatch = await CloudWatchFake.start({
      region: LOCAL_REGION,
      datapoints: ({ namespace, name, dimension }) => {
        if (namespace !== 'AWS/Firehose' || dimension !== deliveryStream) return [];
        const minute = Date.now() - (Date.now() % MINUTE) - MINUTE;
        if (name === 'DeliveryToS3.DataFreshness') return [{ at: minute, value: 61 }];
        if (name === 'KinesisMillisBehindLatest') return [{ at: minute, value: 0 }];
        return [];
      },
    });
    athenaClient = new AthenaClient({
      region: LOCAL_REGION,
      credentials: CREDENTIALS,
      endpoint: athena.endpoint,
    });
    await mkdir(join(root, 'lambda'));
    // Two at a time: the machine has two cores.
    for (let index = 0; index < stack.functions.length; index += 2)
      await Promise.all(
        stack.functions
          .slice(index, index + 2)
          .map(async (fn) => lambdas.set(fn.logicalId, await startLambda(fn))),
      );
  }, 300_000);

  afterAll(async () => {
    // The table for the note: one JSON line per function.
    for (const fn of stack?.functions ?? []) {
      const asset = assets.get(fn.logicalId);
      console.log(
        JSON.stringify({
          bundle: fn.name,
          handler: fn.handler,
          bytes: asset?.bytes,
          zippedBytes: asset?.zippedBytes,
          invokedWith: invokedWith.get(fn.logicalId)?.join('; ') ?? 'loaded only',
        }),
      );
    }
    await Promise.all([...lambdas.values()].map((lambda) => lambda.close()));
    athenaClient?.destroy();
    await athena?.close();
    await cloudWatch?.close();
    await s3?.close();
    await emulators?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('ships every function on nodejs24.x, zipped under 50 MB, with no native module and a small environment', () => {
    // Prepare
    const problems: string[] = [];
    // Act
    for (const fn of stack.functions) {
      const asset = assets.get(fn.logicalId) as AssetReport;
      if (fn.runtime !== 'nodejs24.x') problems.push(`${fn.name}: runtime ${fn.runtime}`);
      if (asset.zippedBytes > LAMBDA_LIMITS.zippedBytes)
        problems.push(`${fn.name}: ${asset.zippedBytes} bytes zipped`);
      if (asset.bytes > LAMBDA_LIMITS.unzippedBytes)
        problems.push(`${fn.name}: ${asset.bytes} bytes unzipped`);
      for (const native of asset.nativeModules) problems.push(`${fn.name}: native module ${native}`);
      if (environmentBytes(fn.environment) > LAMBDA_LIMITS.environmentBytes)
        problems.push(`${fn.name}: environment over 4 KB`);
    }
    // Assess
    expect(problems).toEqual([]);
  });

  it('deploys every function definition once, its Handler naming the export the definition gives', () => {
    // Prepare
    const definitions = [...FUNCTION_DEFINITIONS.values()];
    // Act
    const deployed = stack.functions.flatMap(({ definition, handler }) =>
      definition === null ? [] : [{ definition, handler }],
    );
    // Assess
    expect(deployed.map(({ definition }) => definition.name).sort()).toEqual(
      definitions.map((definition) => definition.name).sort(),
    );
    for (const { definition, handler } of deployed)
      expect(handler, definition.name).toBe(`index.${definition.handlerExport}`);
  });

  it('loads every bundle on Node 24 outside the repository, where only @aws-sdk resolves, with its handler exported', () => {
    // Prepare
    const loaded = [...lambdas.entries()];
    // Act
    const failures = loaded
      .filter(([, lambda]) => lambda.initError !== null)
      .map(([id, lambda]) => `${id}: ${lambda.initError?.errorType}: ${lambda.initError?.errorMessage}`);
    // Assess
    expect(failures).toEqual([]);
    expect(loaded).toHaveLength(stack.functions.length);
    for (const [, lambda] of loaded) expect(lambda.nodeVersion).toMatch(/^24\./);
    for (const [, lambda] of loaded) expect(lambda.taskRoot.startsWith(REPOSITORY)).toBe(false);
  });

  it('fails a bundle whose handler is not exported, as Lambda does (Runtime.HandlerNotFound)', async () => {
    // Prepare
    const speed = functionNamed('speed');
    // Act
    const lambda = await startLambda(speed, { handler: 'index.notExported' });
    // Assess
    expect(lambda.initError?.errorType).toBe('Runtime.HandlerNotFound');
    await lambda.close();
  });

  it('fails a bundle that imports a package the runtime lacks (Runtime.ImportModuleError)', async () => {
    // Prepare: a bundle that left a dependency outside, as a missing `nodeModules`/`externalModules` would
    const assetDir = join(root, 'leaky-asset');
    await mkdir(assetDir);
    await writeFile(
      join(assetDir, 'index.mjs'),
      "import { NodeHttpHandler } from '@smithy/node-http-handler';\nexport const handler = async () => String(NodeHttpHandler);\n",
    );
    // Act
    const lambda = await startLambda(functionNamed('archive-transform'), {
      assetDir,
      handler: 'index.handler',
    });
    // Assess
    expect(lambda.initError?.errorType).toBe('Runtime.ImportModuleError');
    expect(lambda.initError?.errorMessage).toContain('@smithy/node-http-handler');
    await lambda.close();
  });

  it('speed: applies a Kinesis batch of plain and packed (KPL) records, valid and duplicate, and quarantines the invalid one alone', async () => {
    // Prepare: the first three orders as plain records, the rest (b1, b2, b1 again, the invalid one)
    // packed in one aggregated record, as POST /events writes them.
    const speed = functionNamed('speed');
    const plain = RECORDS.slice(0, 3);
    const packed = RECORDS.slice(3);
    const event = kinesisEvent([
      ...plain.map((record, index) =>
        kinesisRecord({
          shardId: SHARD_ID,
          sequenceNumber: sequenceNumber(index),
          data: JSON.stringify(record),
          partitionKey: String(record.id),
          arrivalMs: (record.ts as number) + 2_000,
        }),
      ),
      kinesisRecord({
        shardId: SHARD_ID,
        sequenceNumber: sequenceNumber(plain.length),
        data: packedData(packed.map((record) => JSON.stringify(record))),
        partitionKey: String(packed[0]?.id),
        arrivalMs: T0 + 90 * MINUTE,
      }),
    ]);
    // Act
    const answer = await invoke<KinesisStreamBatchResponse>(
      speed,
      'a Kinesis batch: 3 plain orders, a packed record of 2 orders, a duplicate and an invalid record',
      event,
    );
    // Assess
    expect(answer).toEqual({ batchItemFailures: [] });
    const store = new DynamoSpeedStore(emulators.dynamo, speed.environment.TABLE_NAME as string);
    for (const view of views) {
      const stored = await store.readRows(view, T0, T0 + 3 * HOUR, Date.now());
      expect(sorted(view, stored), view.name).toEqual(compileJs(view).reduce(countedIn(view)).sorted());
    }
    const quarantineBucket = speed.environment.QUARANTINE_BUCKET as string;
    const quarantined = await s3.list(quarantineBucket, 'quarantine/');
    expect(quarantined).toHaveLength(1);
    const record = JSON.parse(
      (await s3.get(quarantineBucket, quarantined[0]?.key as string)).toString('utf8'),
    );
    expect(record.reason).toMatch(/amount/);
    expect(record.subSequenceNumber).toBe(packed.indexOf(INVALID));
    const [published] = lambdas.get(speed.logicalId)?.emf() ?? [];
    expect(published).toMatchObject({ service: SERVICES.speed, events: 6, invalid: 1, conflicts: 0 });
  });

  it('archive transform: files valid records under their event day (dt) and drops the invalid one', async () => {
    // Prepare
    const transform = functionNamed('archive-transform');
    const event: FirehoseTransformationEvent = {
      invocationId: randomUUID(),
      deliveryStreamArn: stack.names.getAtt(logicalIdOf('AWS::KinesisFirehose::DeliveryStream'), 'Arn'),
      sourceKinesisStreamArn: stack.names.getAtt(logicalIdOf('AWS::Kinesis::Stream'), 'Arn'),
      region: LOCAL_REGION,
      records: RECORDS.map((record, index) => ({
        recordId: `49546986683135544286507457936321625675700192471156785154${index}`,
        approximateArrivalTimestamp: (record.ts as number) + 2_000,
        data: Buffer.from(JSON.stringify(record)).toString('base64'),
        kinesisRecordMetadata: {
          shardId: SHARD_ID,
          partitionKey: String(record.id),
          approximateArrivalTimestamp: (record.ts as number) + 2_000,
          sequenceNumber: sequenceNumber(index),
          subsequenceNumber: '0',
        },
      })),
    };
    // Act
    const answer = await invoke<FirehoseTransformationResult>(
      transform,
      'a Firehose transformation batch: 6 good records, 1 invalid',
      event,
    );
    // Assess
    expect(answer.records.map(({ recordId }) => recordId)).toEqual(
      event.records.map(({ recordId }) => recordId),
    );
    expect(
      answer.records.map((record) => [record.result, record.metadata?.partitionKeys?.dt ?? null]),
    ).toEqual(
      RECORDS.map((record) => (record === INVALID ? ['Dropped', null] : ['Ok', dayOf(record.ts as number)])),
    );
    // Then Firehose delivers each partition's Ok records, gzip, where the table reads, named as Firehose names them.
    const archive = archiveLocationOf(stack.template, stack.names);
    const deliveryStream = localName('AWS::KinesisFirehose::DeliveryStream');
    const stamp = new Date().toISOString().slice(0, 19).replace(/[T:]/g, '-');
    const byFolder = Map.groupBy(
      answer.records.filter((record) => record.result === 'Ok'),
      (record) =>
        archiveDayPrefix(
          record.metadata?.partitionKeys?.type ?? '',
          record.metadata?.partitionKeys?.dt ?? '',
        ),
    );
    for (const [folder, records] of byFolder) {
      // Each folder lies where a table reads.
      expect(
        archive.tables.some(({ prefix }) => folder.startsWith(prefix)),
        folder,
      ).toBe(true);
      const lines = records.map((record) => Buffer.from(record.data ?? '', 'base64'));
      await s3.put(
        archive.bucket,
        `${folder}${deliveryStream}-1-${stamp}-${randomUUID()}.gz`,
        gzipSync(Buffer.concat(lines)),
      );
    }
  });

  it('archive marker: records the day of each archive object from its EventBridge "Object Created" event', async () => {
    // Prepare: the objects delivered above, announced as S3 announces them to EventBridge
    const marker = functionNamed(archiveMarkerFunction.name);
    const archive = archiveLocationOf(stack.template, stack.names);
    const objects = await s3.list(archive.bucket, ARCHIVE_EVENTS_PREFIX);
    // Act
    for (const [index, object] of objects.entries())
      await invoke(
        marker,
        'EventBridge "Object Created" events of the delivered archive objects',
        objectCreatedEvent(
          archive.bucket,
          { key: object.key, body: await s3.get(archive.bucket, object.key) },
          new Date(),
          index,
        ),
      );
    // Assess: the batch runs below find these days through the markers
    const store = new DynamoBatchStore(emulators.dynamo, marker.environment.TABLE_NAME as string, catalogs);
    expect(objects.length).toBeGreaterThan(0);
    expect(await store.archiveDays(orderEvents.name, '', '9999-12-31')).toEqual(
      [...new Set(ACCEPTED.map((record) => dayOf(record.ts as number)))].sort(),
    );
  });

  it('export hasher: records the sha256 of an export file from its EventBridge "Object Created" event, streamed from S3', async () => {
    // Prepare: a file Athena wrote under the exports prefix
    const hasher = functionNamed(exportHasherFunction.name);
    const bucket = hasher.environment.EXPORT_BUCKET as string;
    const key = `exports/${randomUUID()}/part-0.parquet`;
    const body = Buffer.alloc(3 * 1024 * 1024, 'driftless');
    await s3.put(bucket, key, body);
    // Act
    await invoke(
      hasher,
      'an EventBridge "Object Created" event of an export file',
      objectCreatedEvent(bucket, { key, body }, new Date(), 0),
    );
    // Assess
    const jobs = new DynamoExportJobs(emulators.dynamo, hasher.environment.TABLE_NAME as string);
    expect(await jobs.fileHashes([key])).toEqual(
      new Map([[key, { sha256: createHash('sha256').update(body).digest('hex'), bytes: body.byteLength }]]),
    );
  });

  it('batch: two runs of the synthesized state machine load exact views from the archive and reconcile with the speed layer', async () => {
    // Prepare: the archive and the speed items written above
    const plan = functionNamed('batch-plan');
    const store = new DynamoBatchStore(emulators.dynamo, plan.environment.TABLE_NAME as string, catalogs);
    // Act
    await runStateMachine({ now: T0 + 80 * MINUTE });
    const second = await runStateMachine({ now: T0 + 140 * MINUTE });
    // Assess: every bucket below each watermark is exact (the duplicate removed, the invalid record out)
    for (const view of views) {
      const manifest = await store.getManifest(view.name);
      expect(manifest, view.name).not.toBeNull();
      const watermark = manifest?.watermark as number;
      expect(watermark).toBeGreaterThan(T0 + HOUR);
      const exact = compileJs(view)
        .reduce(deduplicateEvents(view, countedIn(view)))
        .sorted();
      const served = await store.readRows(view, manifest as never, T0, watermark);
      expect(sorted(view, served), view.name).toEqual(inRange(exact, T0, watermark));
    }
    // Each plan bounded its watermark by Firehose's measures of the archive, read from CloudWatch.
    expect(cloudWatch.requests.map(({ queries }) => queries.map((query) => query.Id))).toEqual([
      ['freshness', 'behind'],
      ['freshness', 'behind'],
    ]);
    // Per run: one query per view, one counting the archive's skipped lines and one finding distant copies.
    expect(athena.executed.map(({ state }) => state)).toEqual(
      Array.from({ length: 2 * (views.length + 2) }, () => 'SUCCEEDED'),
    );
    // The second run reconciles the hour (minutes) the first run's watermark left: speed counted b1 twice.
    const [reconciled] = (second.get('Reconcile') ?? []) as unknown as { reports: DriftReport[] }[];
    expect(
      Object.fromEntries((reconciled?.reports ?? []).map((report) => [report.view, report.driftRatio])),
    ).toMatchObject({ revenue: 0.8, orders_per_minute: 0.5, page_views: 0 });
    const published = lambdas.get(functionNamed('batch-reconcile').logicalId)?.emf() ?? [];
    // Page views: none sent, none counted by either layer, so no drift.
    expect(Object.fromEntries(published.map((line) => [line.view, line.driftRatio]))).toMatchObject({
      revenue: 0.8,
      orders_per_minute: 0.5,
      page_views: 0,
    });
  });

  it('api: answers a cross-origin request with CORS headers (the preflight is answered by a MOCK method of the API)', async () => {
    // Prepare
    const event = apiEvent('GET', '/views', { headers: { Origin: 'https://dashboard.example' } });
    // Act
    const answer = await invoke<APIGatewayProxyResult>(
      functionNamed('api'),
      'API Gateway proxy events: GET /views from another origin',
      event,
    );
    // Assess
    expect(answer.statusCode).toBe(200);
    expect(headerOf(answer, 'access-control-allow-origin')).toBe('*');
  });

  it('api: lists the views with the watermarks the batch runs committed', async () => {
    // Prepare
    const event = apiEvent('GET', '/views');
    // Act
    const answer = await invoke<APIGatewayProxyResult>(functionNamed('api'), 'GET /views', event);
    // Assess
    expect(answer.statusCode).toBe(200);
    const body = JSON.parse(bodyOf(answer)) as { views: { name: string; watermark: number }[] };
    const watermarks = Object.fromEntries(body.views.map((view) => [view.name, view.watermark]));
    expect(Object.keys(watermarks).sort()).toEqual(views.map((view) => view.name).sort());
    expect(watermarks).toMatchObject({
      revenue: T0 + 2 * HOUR,
      orders_per_minute: T0 + 125 * MINUTE,
      // No page view was sent: its view is exact (empty) to the same hour all the same.
      page_views: T0 + 2 * HOUR,
    });
  });

  it('api: serves the revenue series gzipped, exact from the batch layer below the watermark', async () => {
    // Prepare
    const event = apiEvent('GET', '/views/revenue/series', {
      query: { from: String(T0), to: String(T0 + 3 * HOUR) },
      headers: { 'Accept-Encoding': 'gzip, deflate' },
    });
    // Act
    const answer = await invoke<APIGatewayProxyResult>(
      functionNamed('api'),
      'GET /views/revenue/series',
      event,
    );
    // Assess
    expect(answer.statusCode).toBe(200);
    expect(headerOf(answer, 'content-encoding')).toBe('gzip');
    const body = JSON.parse(bodyOf(answer)) as { buckets: unknown[] };
    expect(body.buckets).toEqual([
      {
        start: T0,
        source: 'batch',
        batchVersion: expect.any(String),
        groups: [
          { key: { country: 'DE' }, values: { revenue: 900, orders: 1 } },
          { key: { country: 'FR' }, values: { revenue: 2500, orders: 1 } },
        ],
      },
      {
        start: T0 + HOUR,
        source: 'batch',
        batchVersion: expect.any(String),
        groups: [
          { key: { country: 'DE' }, values: { revenue: 4000, orders: 1 } },
          { key: { country: 'FR' }, values: { revenue: 1000, orders: 1 } },
        ],
      },
    ]);
  });

  it('api: accepts a base64 POST /events with 202 and puts the valid events on the stream', async () => {
    // Prepare
    const posted = sentOrders([
      { id: 'api-1', ts: T0 + 150 * MINUTE, country: 'DE', amount: 700, status: 'paid' },
      { id: 'api-2', ts: T0 + 151 * MINUTE, country: 'FR', amount: 300, status: 'pending' },
      { id: 'api-bad', ts: T0 + 152 * MINUTE, amount: 'lots', status: 'paid' },
    ]);
    const event = apiEvent('POST', '/events', {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(posted),
    });
    // Act
    const answer = await invoke<APIGatewayProxyResult>(
      functionNamed('api'),
      'POST /events (base64 body)',
      event,
    );
    // Assess
    expect(answer.statusCode).toBe(202);
    expect(JSON.parse(bodyOf(answer))).toMatchObject({ accepted: 2, rejected: 1 });
    const onStream = await streamRecords(emulators.kinesis, localName('AWS::Kinesis::Stream'));
    expect(onStream.map((record) => record.id).sort()).toEqual(['api-1', 'api-2']);
  });

  it('every Driftless alarm and dashboard metric watches a metric the bundles emitted, with the same dimensions', () => {
    // Prepare
    const emitted = new Set(
      emittedMetrics([...lambdas.values()].flatMap((lambda) => lambda.emf())).map(metricKey),
    );
    // Act
    const watched = watchedMetrics(stack.template, METRICS_NAMESPACE);
    const unmatched = watched
      .filter(({ metric }) => !emitted.has(metricKey(metric)))
      .map(({ watcher, metric }) => `${watcher} watches ${metricKey(metric)}`);
    // Assess
    expect(watched.length).toBeGreaterThan(0);
    expect(unmatched, `emitted: ${[...emitted].sort().join(' ')}`).toEqual([]);
  });
});
