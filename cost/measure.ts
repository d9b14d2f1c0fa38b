/**
 * The figures the cost model multiplies by prices, measured in seconds by running the project's own
 * code on synthetic demo orders: the speed processor over the batches this workload gives (its writes,
 * their billed units, its time), `packRecords` over what producers put, the Firehose transform and gzip
 * over the archive's lines, the archive marker; and read from the synthesized template: memory sizes,
 * the mapping, Firehose's buffering, the state machine's transitions, alarms.
 */
import { gzipSync } from 'node:zlib';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import type {
  FirehoseTransformationEvent,
  KinesisStreamEvent,
  S3ObjectCreatedNotificationEvent,
} from 'aws-lambda';
import { catalogs, type OrderEvent, orderEvents } from '../events';
import { DynamoBatchStore } from '../functions/adapters/dynamo-batch-store';
import { BUCKET_ATTRIBUTE, itemBytes } from '../functions/adapters/dynamo-rows';
import { DynamoSpeedStore } from '../functions/adapters/dynamo-speed-store';
import { type PackedRecord, packRecords } from '../functions/adapters/kinesis-aggregation';
import { MAX_RECORDS_PER_PUT } from '../functions/adapters/kinesis-events';
import type { ObjectStore } from '../functions/adapters/object-store';
import { transformRecords } from '../functions/archive/firehose-transform';
import { DAYS_PER_LOAD } from '../functions/batch/chunks';
import { markArchiveObject } from '../functions/batch/marker';
import { archiveDayPrefix } from '../functions/commons/layout';
import { BATCH_METRICS, SPEED_METRICS } from '../functions/commons/metrics';
import {
  BUCKET_WIDTH_MS,
  compileJs,
  dayOf,
  daysInRanges,
  dedupeReadRanges,
  speedPartitionKey,
  TABLE_ATTRIBUTES,
  type ViewDefinition,
} from '../functions/core';
import { SpeedProcessor } from '../functions/speed/processor';
import { Quarantine } from '../functions/speed/quarantine';
import { DEFAULT_STAGE_CONFIG, type StageConfig } from '../lib/config';
import { generateOrders, take } from '../local/demo';
import { lambdaKinesisRecord } from '../local/lambda-kinesis-record';
import {
  type CloudFormationTemplate,
  eventSourceOf,
  LocalNames,
  stateMachineDefinitionOf,
  synthesizeTemplate,
  templateFunctions,
} from '../local/template';
import {
  DYNAMODB_ROUND_TRIP_MS,
  invocationSeconds,
  type Measured,
  type StreamPlan,
  shardsOf,
  streamPlan,
  type Workload,
} from './model';
import { BILLING_RULES } from './prices';

/** At most this many events are simulated through the speed processor: a second or two of compute. */
const MAX_SIMULATED_EVENTS = 200_000;
/**
 * Event time of the first simulated event: a fixed instant (the same run gives the same figures), half
 * a second off the second, so batches straddle minute boundaries as often as real ones do.
 */
const START_MS = Date.UTC(2026, 10, 25, 9, 59, 29, 500);
/** Invocations at the end of the run that wait DYNAMODB_ROUND_TRIP_MS per request, timed whole. */
const TIMED_INVOCATIONS = 20;
const SEQUENCE_BASE = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n;
const COST_STREAM = {
  streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/cost',
  roleArn: 'arn:aws:iam::000000000000:role/cost',
};
const shardIdOf = (shard: number) => `shardId-${String(shard).padStart(12, '0')}`;
const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A DynamoDB client that answers every request (after `latencyMs`), keeping the items its UpdateItems
 * build (SET and ADD, conditions taken as met: the measured stream is never redelivered), so a run's
 * requests, their write units (the larger item size, before or after, per 1 KB) and the items' sizes can
 * be read back.
 */
class RecordingDynamo {
  readonly items = new Map<string, Record<string, AttributeValue>>();
  readonly requests = new Map<string, number>();
  writeUnits = 0;
  /** Read request units of the strongly consistent reads (a distinct measure's merge reads its item first). */
  readUnits = 0;
  latencyMs = 0;

  async send(command: { readonly input: unknown }): Promise<unknown> {
    const name = command.constructor.name;
    this.requests.set(name, (this.requests.get(name) ?? 0) + 1);
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    if (command instanceof UpdateItemCommand) this.update(command.input);
    if (command instanceof GetItemCommand) {
      const item = this.items.get(JSON.stringify(command.input.Key));
      // A strongly consistent read costs one unit per 4 KB of the item, rounded up (at least one).
      this.readUnits +=
        Math.max(
          1,
          Math.ceil((item === undefined ? 0 : itemBytes(item)) / BILLING_RULES.dynamodbReadUnit.bytes),
        ) * (command.input.ConsistentRead === true ? 1 : 0.5);
      return { Item: item };
    }
    return {};
  }

  private update({
    Key,
    UpdateExpression,
    ExpressionAttributeNames,
    ExpressionAttributeValues,
  }: UpdateItemCommandInput) {
    const id = JSON.stringify(Key);
    const before = this.items.get(id);
    const item: Record<string, AttributeValue> = { ...(before ?? Key) };
    const name = (placeholder: string) => ExpressionAttributeNames?.[placeholder] ?? placeholder;
    const value = (placeholder: string) => {
      const found = ExpressionAttributeValues?.[placeholder];
      if (found === undefined) throw new Error(`no value for ${placeholder} in ${UpdateExpression}`);
      return found;
    };
    if (/\b(REMOVE|DELETE)\b/.test(UpdateExpression ?? ''))
      throw new Error(`the cost measurement applies SET and ADD only, not ${UpdateExpression}`);
    for (const [, action, clauses = ''] of (UpdateExpression ?? '').matchAll(
      /(SET|ADD) (.+?)(?= (?:SET|ADD) |$)/g,
    )) {
      for (const clause of clauses.split(', ')) {
        if (action === 'SET') {
          const [target = '', source = ''] = clause.split(' = ');
          item[name(target)] = value(source);
        } else {
          const [target = '', source = ''] = clause.split(' ');
          const current = item[name(target)]?.N ?? '0';
          item[name(target)] = { N: (BigInt(current) + BigInt(value(source).N ?? '0')).toString() };
        }
      }
    }
    this.items.set(id, item);
    const bytes = Math.max(before === undefined ? 0 : itemBytes(before), itemBytes(item));
    this.writeUnits += Math.ceil(bytes / BILLING_RULES.dynamodbWriteUnit.bytes);
  }

  get updates(): number {
    return this.requests.get(UpdateItemCommand.name) ?? 0;
  }

  /** Stands in for the SDK client the stores take. */
  asClient(): DynamoDBClient {
    return this as unknown as DynamoDBClient;
  }
}

/** Metrics that keep the size of each EMF line instead of printing it. */
class MeasuredMetrics extends Metrics {
  readonly lineBytes: number[] = [];

  override publishStoredMetrics(): this {
    this.lineBytes.push(Buffer.byteLength(`${JSON.stringify(this.serializeMetrics())}\n`));
    this.clearMetrics();
    return this;
  }
}

/** A quarantine that refuses: a measured batch must have no invalid record. */
const refusingStore: ObjectStore = {
  put: async (key) => {
    throw new Error(`the cost measurement quarantined ${key}: its events must all be valid`);
  },
  get: async (key) => {
    throw new Error(`no object ${key}`);
  },
  stream: (key) => {
    throw new Error(`no object ${key}`);
  },
  list: async () => [],
};

/** Demo orders a rate apart, their JSON padded with spaces to `eventBytes` (JSON allows them). */
function demoOrders(count: number, eventsPerSec: number): OrderEvent[] {
  const orders = generateOrders({
    seed: 1,
    idPrefix: 'cost',
    time: (index) => START_MS + Math.floor((index * 1000) / eventsPerSec),
  });
  return take(orders, count).map((record) => record.event as OrderEvent);
}

const padded = (event: OrderEvent, eventBytes: number): Uint8Array =>
  Buffer.from(JSON.stringify(event).padEnd(eventBytes));

/** What producers put: each flush's events packed together, at most a PutRecords' worth. */
function producerPuts(
  events: readonly OrderEvent[],
  workload: Workload,
): { record: PackedRecord; at: number }[] {
  const perPut = Math.min(
    MAX_RECORDS_PER_PUT,
    Math.max(1, Math.round(workload.eventsPerSec * workload.producerFlushSeconds)),
  );
  const puts: { record: PackedRecord; at: number }[] = [];
  for (let first = 0; first < events.length; first += perPut) {
    const group = events.slice(first, first + perPut);
    const at = (group.at(-1) as OrderEvent).ts;
    const packed = packRecords(
      group.map((event) => ({ partitionKey: event.id, data: padded(event, workload.eventBytes) })),
    );
    for (const record of packed)
      puts.push({
        record: { ...record, userRecordIndexes: record.userRecordIndexes.map((i) => first + i) },
        at,
      });
  }
  return puts;
}

function packingOf(
  puts: readonly { record: PackedRecord }[],
  events: number,
  eventBytes: number,
): Measured['packing'] {
  const sizes = puts.map(({ record }) => record.data.length);
  const units = (unit: number) => mean(sizes.map((size) => Math.ceil(size / unit)));
  return {
    eventBytes,
    eventsPerRecord: events / puts.length,
    bytesPerRecord: mean(sizes),
    kinesisKbPerRecord: units(BILLING_RULES.kinesisOnDemandRecord.bytes),
    putUnitsPerRecord: units(BILLING_RULES.kinesisPutPayloadUnit.bytes),
    firehoseUnitsPerRecord: units(BILLING_RULES.firehoseRecord.bytes),
  };
}

/** A batch of one shard's records as Lambda delivers it. */
function lambdaEvent(
  shard: number,
  records: readonly { record: PackedRecord; at: number; sequence: bigint }[],
): KinesisStreamEvent {
  return {
    Records: records.map(({ record, at, sequence }) =>
      lambdaKinesisRecord(COST_STREAM, {
        shardId: shardIdOf(shard),
        sequenceNumber: sequence.toString(),
        partitionKey: record.partitionKey,
        data: record.data,
        arrivalMs: at,
      }),
    ),
  };
}

/**
 * The invocations Lambda would make: each packed record on a shard (round robin: keys hash evenly), each
 * shard's records cut every `plan.intervalSeconds` of arrival and at `plan.maxRecordsPerInvocation`; in
 * time order.
 */
function invocationsOf(
  puts: readonly { record: PackedRecord; at: number }[],
  plan: StreamPlan,
): { shard: number; event: KinesisStreamEvent; events: number }[] {
  const batches = new Map<
    string,
    { shard: number; interval: number; records: { record: PackedRecord; at: number; sequence: bigint }[] }[]
  >();
  puts.forEach((put, index) => {
    const shard = index % plan.shards;
    const interval = Math.floor((put.at - START_MS) / (plan.intervalSeconds * 1000));
    const key = `${interval}/${shard}`;
    const list = batches.get(key) ?? [];
    const last = list.at(-1);
    const sequence = SEQUENCE_BASE + BigInt(index);
    if (last === undefined || last.records.length >= plan.maxRecordsPerInvocation)
      list.push({ shard, interval, records: [{ ...put, sequence }] });
    else last.records.push({ ...put, sequence });
    batches.set(key, list);
  });
  return [...batches.values()]
    .flat()
    .sort((a, b) => a.interval - b.interval || a.shard - b.shard)
    .map(({ shard, records }) => ({
      shard,
      event: lambdaEvent(shard, records),
      events: records.reduce((count, { record }) => count + record.userRecordIndexes.length, 0),
    }));
}

/** The speed processor over this workload's invocations: writes, write units, time, its items per view. */
async function measureSpeed(
  views: readonly ViewDefinition[],
  events: readonly OrderEvent[],
  puts: readonly { record: PackedRecord; at: number }[],
  plan: StreamPlan,
  deployment: Measured['deployment'],
): Promise<Measured['speed']> {
  const dynamo = new RecordingDynamo();
  const metrics = new MeasuredMetrics({ namespace: 'Cost' });
  let now = START_MS;
  const processor = new SpeedProcessor({
    catalogs,
    views,
    store: new DynamoSpeedStore(dynamo.asClient(), 'cost'),
    quarantine: new Quarantine(refusingStore),
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics,
    retentionMs: deployment.speedRetentionHours * 3_600_000,
    now: () => now,
  });
  const invocations = invocationsOf(puts, plan);
  // The last invocations wait for each DynamoDB request, as the deployed handler does; the others,
  // after a quarter of them to warm up (a container serves many batches), give the compute alone.
  const timedFrom = invocations.length - Math.min(TIMED_INVOCATIONS, Math.ceil(invocations.length / 2));
  const warmedFrom = Math.floor(timedFrom / 4);
  let computeMs = 0;
  let computedEvents = 0;
  const timedMs: number[] = [];
  for (const [index, invocation] of invocations.entries()) {
    dynamo.latencyMs = index >= timedFrom ? DYNAMODB_ROUND_TRIP_MS : 0;
    now = (invocation.event.Records.at(-1)?.kinesis.approximateArrivalTimestamp ?? 0) * 1000;
    const started = performance.now();
    const response = await processor.process(invocation.event);
    const elapsed = performance.now() - started;
    if (response.batchItemFailures.length > 0) throw new Error('the speed processor failed a measured batch');
    if (index >= timedFrom) timedMs.push(elapsed);
    else if (index >= warmedFrom) {
      computeMs += elapsed;
      computedEvents += invocation.events;
    }
  }
  return {
    plan,
    writesPerInvocation: dynamo.updates / invocations.length,
    writeUnitsPerWrite: dynamo.writeUnits / dynamo.updates,
    readUnitsPerInvocation: dynamo.readUnits / invocations.length,
    handlerMsPerInvocation: mean(timedMs),
    computeMsPerEvent:
      computedEvents > 0 ? computeMs / computedEvents : mean(timedMs) / plan.eventsPerInvocation,
    emfBytesPerInvocation: mean(metrics.lineBytes),
    views: views.map((view) => {
      const items = [...dynamo.items.values()].filter((item) =>
        item[TABLE_ATTRIBUTES.partitionKey]?.S?.startsWith(speedPartitionKey(view, '')),
      );
      const buckets = new Set(items.map((item) => item[BUCKET_ATTRIBUTE]?.N));
      const compiled = compileJs(view);
      return {
        name: view.name,
        bucketMs: BUCKET_WIDTH_MS[view.time.bucket],
        groupsPerBucket: items.length / Math.max(1, buckets.size),
        itemBytes: items.length === 0 ? 0 : mean(items.map(itemBytes)),
        countedShare: events.filter((event) => compiled.matches(event)).length / events.length,
      };
    }),
  };
}

/** The transform over the events as Firehose gives them, and gzip over its lines, as Firehose writes them. */
async function measureArchive(
  events: readonly OrderEvent[],
  eventBytes: number,
): Promise<Omit<Measured['archive'], 'markerWritesPerObject' | 'markerMsPerObject'>> {
  const transformEvent = (data: (event: OrderEvent) => Uint8Array): FirehoseTransformationEvent => ({
    invocationId: 'cost',
    deliveryStreamArn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/cost',
    region: 'us-east-1',
    records: events.map((event, index) => ({
      recordId: String(index),
      approximateArrivalTimestamp: event.ts,
      data: Buffer.from(data(event)).toString('base64'),
    })),
  });
  // The lines of unpadded events: what the transform keeps of an event's own bytes.
  const plain = transformEvent((event) => Buffer.from(JSON.stringify(event)));
  const lines = (await transformRecords(plain)).records.map((record) =>
    Buffer.from(record.data ?? '', 'base64').toString('utf8'),
  );
  const text = `${lines.join('\n')}\n`;
  const eventBytesSent = events.reduce((bytes, event) => bytes + Buffer.byteLength(JSON.stringify(event)), 0);
  // Its time on events of the size asked for.
  const sized = transformEvent((event) => padded(event, eventBytes));
  const started = performance.now();
  await transformRecords(sized);
  const transformMs = performance.now() - started;
  return {
    lineBytesPerEventByte: (Buffer.byteLength(text) - lines.length) / eventBytesSent,
    gzipRatio: gzipSync(text).length / Buffer.byteLength(text),
    transformMsPerEvent: transformMs / events.length,
  };
}

/** The archive marker on objects as EventBridge announces them: its table writes and time per object. */
async function measureMarker(
  objects = 10,
): Promise<Pick<Measured['archive'], 'markerWritesPerObject' | 'markerMsPerObject'>> {
  const dynamo = new RecordingDynamo();
  dynamo.latencyMs = DYNAMODB_ROUND_TRIP_MS;
  const store = new DynamoBatchStore(dynamo.asClient(), 'cost', catalogs);
  const logger = new Logger({ logLevel: 'SILENT' });
  const started = performance.now();
  for (let index = 0; index < objects; index++) {
    const at = START_MS + index * 60_000;
    await markArchiveObject(
      store,
      logger,
      {
        time: new Date(at).toISOString(),
        detail: { object: { key: `${archiveDayPrefix(orderEvents.name, dayOf(at))}object-${index}.gz` } },
      } as S3ObjectCreatedNotificationEvent,
      at,
    );
  }
  return {
    markerWritesPerObject: dynamo.updates / objects,
    markerMsPerObject: (performance.now() - started) / objects,
  };
}

interface StateCounts {
  transitions: number;
  queries: number;
  lambdaTasks: number;
}

type StateDefinition = {
  readonly Type: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Resource?: string;
  readonly Default?: string;
  readonly Choices?: readonly { readonly Next: string }[];
  readonly ItemProcessor?: {
    readonly StartAt: string;
    readonly States: Readonly<Record<string, StateDefinition>>;
  };
};

/**
 * The states a successful run enters, walked on the definition: each Map item (a view) walks its
 * processor; a Choice takes its first rule (the rules test that nothing is left or failed), unless its
 * default loops back and `loops` further loads are left. Counts transitions, Athena queries, Lambda tasks.
 */
function walkRun(
  states: Readonly<Record<string, StateDefinition>>,
  startAt: string,
  items: number,
  loops: number,
): StateCounts {
  const counts: StateCounts = { transitions: 0, queries: 0, lambdaTasks: 0 };
  const entered = new Set<string>();
  const loopsBack = (from: string | undefined): boolean => {
    for (let name = from; name !== undefined; name = states[name]?.Next) if (entered.has(name)) return true;
    return false;
  };
  let left = loops;
  for (let name: string | undefined = startAt; name !== undefined; ) {
    const state: StateDefinition | undefined = states[name];
    if (state === undefined) throw new Error(`the state machine has no state ${name}`);
    entered.add(name);
    counts.transitions++;
    if (state.Type === 'Task' && state.Resource?.includes(':states:::athena:')) counts.queries++;
    else if (state.Type === 'Task' && state.Resource?.includes(':function:')) counts.lambdaTasks++;
    if (state.Type === 'Map' && state.ItemProcessor !== undefined) {
      const item = walkRun(state.ItemProcessor.States, state.ItemProcessor.StartAt, 1, loops);
      counts.transitions += items * item.transitions;
      counts.queries += items * item.queries;
      counts.lambdaTasks += items * item.lambdaTasks;
    }
    if (state.Type === 'Choice') {
      const loop: boolean = left > 0 && loopsBack(state.Default);
      if (loop) left--;
      name = loop ? state.Default : state.Choices?.[0]?.Next;
    } else name = state.End === true ? undefined : state.Next;
  }
  return counts;
}

/** What the synthesized stack says: function memory, the mapping, Firehose's buffering, alarms, the run's states. */
function deploymentOf(
  template: CloudFormationTemplate,
  views: readonly ViewDefinition[],
  stage: StageConfig,
): {
  deployment: Measured['deployment'];
  batch: Omit<Measured['batch'], 'daysReadPerRun' | 'daysReadSource'>;
} {
  const names = new LocalNames(template);
  const functions = templateFunctions(template, names);
  const memoryOf = (test: (name: string) => boolean) =>
    mean(
      functions
        .filter((fn) => test(fn.definition.name))
        .map((fn) => Number(template.Resources[fn.logicalId]?.Properties?.MemorySize ?? 128)),
    );
  const speed = functions.find((fn) => fn.definition.name === 'speed');
  if (speed === undefined) throw new Error('the template has no speed function');
  const resources = Object.values(template.Resources);
  const count = (type: string) => resources.filter((resource) => resource.Type === type).length;
  const delivery = resources.find((resource) => resource.Type === 'AWS::KinesisFirehose::DeliveryStream');
  const buffering = (
    delivery?.Properties?.ExtendedS3DestinationConfiguration as
      | { BufferingHints?: { IntervalInSeconds?: number; SizeInMBs?: number } }
      | undefined
  )?.BufferingHints;
  const definition = stateMachineDefinitionOf(template, names) as {
    StartAt: string;
    States: Record<string, StateDefinition>;
  };
  const run = walkRun(definition.States, definition.StartAt, views.length, 0);
  const longer = walkRun(definition.States, definition.StartAt, views.length, 1);
  const perLoad = (count: keyof StateCounts) => (longer[count] - run[count]) / views.length;
  const metrics = [...Object.values(SPEED_METRICS), ...Object.values(BATCH_METRICS)];
  return {
    deployment: {
      memoryMb: {
        speed: memoryOf((name) => name === 'speed'),
        transform: memoryOf((name) => name === 'archive-transform'),
        marker: memoryOf((name) => name === 'archive-marker'),
        api: memoryOf((name) => name === 'api'),
        batch: memoryOf((name) => name.startsWith('batch-')),
      },
      mappingBatchSize: eventSourceOf(template, speed.logicalId).batchSize,
      // Firehose's defaults when the template sets none: 300 s, 5 MiB.
      firehoseBufferSeconds: buffering?.IntervalInSeconds ?? 300,
      firehoseBufferBytes: (buffering?.SizeInMBs ?? 5) * 1024 ** 2,
      customMetrics: metrics.reduce(
        (total, metric) => total + (metric.dimensions.includes('view') ? views.length : 1),
        0,
      ),
      alarms: count('AWS::CloudWatch::Alarm'),
      dashboards: count('AWS::CloudWatch::Dashboard'),
      // Under `auto` the settle is learned within bounds: the maximum is the most the speed layer serves.
      settleMinutes: stage.settleMinutes === 'auto' ? stage.settleMaxMinutes : stage.settleMinutes,
      speedRetentionHours: stage.speedRetentionHours,
    },
    batch: {
      runQueries: run.queries - views.length * perLoad('queries'),
      queriesPerLoad: perLoad('queries'),
      transitionsPerRun: run.transitions,
      transitionsPerExtraLoad: perLoad('transitions'),
      lambdaTasksPerRun: run.lambdaTasks,
      lambdaTasksPerExtraLoad: perLoad('lambdaTasks'),
      daysPerLoad: DAYS_PER_LOAD,
    },
  };
}

/** Days a run reads when only today changed, by the plan's rule: today and the dedupe horizon's days before. */
function daysReadByRule(): number {
  const today = dayOf(START_MS);
  return daysInRanges(dedupeReadRanges([[today, today]], orderEvents.dedupeHorizonDays)).length;
}

export interface MeasureOptions {
  readonly views: readonly ViewDefinition[];
  /** The stage the template is synthesized for. @default DEFAULT_STAGE_CONFIG */
  readonly stage?: StageConfig;
  /** Days a run reads, as a batch run measured them; @default the plan's rule (`daysReadByRule`) */
  readonly daysRead?: { readonly days: number; readonly source: string };
  /** Bytes a batch run read and the events in its days (its run statistics); @default Athena is modelled */
  readonly scan?: Measured['batch']['scan'];
}

/** Every figure `monthlyCost` needs for this workload, measured now. */
export async function measureCost(workload: Workload, options: MeasureOptions): Promise<Measured> {
  const stage = options.stage ?? DEFAULT_STAGE_CONFIG;
  const { deployment, batch } = deploymentOf(synthesizeTemplate(stage), options.views, stage);
  // A few invocations of each shard at least, two minutes of stream at most (batches straddle minutes).
  const seconds = Math.max(
    3 * invocationSeconds(workload),
    Math.min(120, MAX_SIMULATED_EVENTS / workload.eventsPerSec),
  );
  const events = demoOrders(Math.ceil(workload.eventsPerSec * seconds), workload.eventsPerSec);
  const puts = producerPuts(events, workload);
  const sizes = events.map((event) => padded(event, workload.eventBytes).length);
  const packing = packingOf(puts, events.length, mean(sizes));
  const plan = streamPlan(workload, packing, deployment.mappingBatchSize, shardsOf(workload, packing));
  const speed = await measureSpeed(options.views, events, puts, plan, deployment);
  const archive = {
    ...(await measureArchive(events.slice(0, 20_000), workload.eventBytes)),
    ...(await measureMarker()),
  };
  const daysRead = options.daysRead ?? {
    days: daysReadByRule(),
    source: "the plan's rule: today and the dedupe horizon's days",
  };
  return {
    speed,
    packing,
    archive,
    batch: {
      ...batch,
      daysReadPerRun: daysRead.days,
      daysReadSource: daysRead.source,
      ...(options.scan === undefined ? {} : { scan: options.scan }),
    },
    deployment,
  };
}
