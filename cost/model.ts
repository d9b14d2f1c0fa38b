/**
 * The monthly AWS bill of a driftless deployment, per service, from a workload and the figures
 * `cost/measure.ts` measures by running the project's own code; and the same deployment done the naive
 * way beside it. Pure: no I/O, no clock. Every figure not measured is a named assumption below, and
 * `assumptions` lists them with the result.
 */
import {
  BILLING_RULES,
  GB,
  MONTH_SECONDS,
  PRICED_REGION,
  PRICES,
  PRICES_READ_ON,
  type PriceName,
  TB,
} from './prices';

export const CAPACITY_MODES = ['on-demand', 'provisioned'] as const;
export type Capacity = (typeof CAPACITY_MODES)[number];

/** What Firehose's 5 KB rounding applies to when its source is a stream of packed records. */
export const FIREHOSE_BILLING_UNITS = ['stream-record', 'user-record'] as const;
export type FirehoseBillingUnit = (typeof FIREHOSE_BILLING_UNITS)[number];

/** The traffic and the configuration priced. */
export interface Workload {
  readonly eventsPerSec: number;
  /** Bytes of one event as sent (its JSON). */
  readonly eventBytes: number;
  readonly capacity: Capacity;
  /** A provisioned stream's shards. @default enough for the rate (`shardsNeeded`) */
  readonly shards?: number;
  /** The speed mapping's batching window (the stage's `speedBatchingWindowSeconds`). */
  readonly batchingWindowSeconds: number;
  /** When the batch layer runs: `rate(N unit)` or a daily `cron(...)` (the stage's `batchSchedule`). */
  readonly batchSchedule: string;
  /** Dashboard pages open all month, each asking for every view's series every `dashboardRefreshSeconds`. */
  readonly dashboards: number;
  readonly dashboardRefreshSeconds: number;
  /** Days of archive kept in S3; the naive way's full recompute scans them all each run. */
  readonly archiveDays: number;
  /** How long a producer gathers events before it packs and puts them (the KPL's RecordMaxBufferedTime). */
  readonly producerFlushSeconds: number;
  /** What Firehose rounds up to 5 KB: each Kinesis record it reads, or each event in it (not documented). */
  readonly firehoseBilledPer: FirehoseBillingUnit;
}

export const DEFAULT_WORKLOAD: Workload = {
  eventsPerSec: 1_000,
  eventBytes: 200,
  capacity: 'on-demand',
  batchingWindowSeconds: 1,
  batchSchedule: 'rate(1 hour)',
  dashboards: 1,
  dashboardRefreshSeconds: 5,
  archiveDays: 365,
  producerFlushSeconds: 0.1,
  firehoseBilledPer: 'stream-record',
};

/** What was measured of one view's speed items. */
export interface ViewFigures {
  readonly name: string;
  readonly bucketMs: number;
  /** Distinct groups a bucket held in the measured stream. */
  readonly groupsPerBucket: number;
  /** Mean size of its speed items as DynamoDB counts it, after every shard wrote its checkpoint. */
  readonly itemBytes: number;
  /** Share of events the view counts (its `where`): the naive way writes once per counted event. */
  readonly countedShare: number;
}

/** Figures measured by running the project's code (`cost/measure.ts`), per unit so the model scales them. */
export interface Measured {
  readonly speed: {
    /** The invocations measured: `streamPlan`'s, for this workload. */
    readonly plan: StreamPlan;
    readonly writesPerInvocation: number;
    /** Write request units per UpdateItem: the larger item size, before or after, rounded up to 1 KB. */
    readonly writeUnitsPerWrite: number;
    /** Read request units per invocation: a distinct measure's merge reads each item it writes first. */
    readonly readUnitsPerInvocation: number;
    /** Handler wall time per invocation, DynamoDB round trips included (DYNAMODB_ROUND_TRIP_MS each). */
    readonly handlerMsPerInvocation: number;
    /** The handler's compute per event, without I/O: the naive handler is costed from it. */
    readonly computeMsPerEvent: number;
    /** The EMF line the handler prints per invocation (CloudWatch Logs ingests it). */
    readonly emfBytesPerInvocation: number;
    readonly views: readonly ViewFigures[];
  };
  /** The events as producers put them, packed by `packRecords` every `producerFlushSeconds`. */
  readonly packing: {
    /** Mean bytes of one event as sent. */
    readonly eventBytes: number;
    readonly eventsPerRecord: number;
    readonly bytesPerRecord: number;
    /** Mean billed units of a packed record: on-demand 1 KB, provisioned 25 KB, Firehose 5 KB. */
    readonly kinesisKbPerRecord: number;
    readonly putUnitsPerRecord: number;
    readonly firehoseUnitsPerRecord: number;
  };
  readonly archive: {
    /** Bytes of an archived JSON line per byte of the event as sent (the transform re-serializes it). */
    readonly lineBytesPerEventByte: number;
    /** Gzipped bytes per archived byte: the transform's output lines, gzipped as Firehose does. */
    readonly gzipRatio: number;
    readonly transformMsPerEvent: number;
    /** The archive marker's table writes per delivered object, and its time per object. */
    readonly markerWritesPerObject: number;
    readonly markerMsPerObject: number;
  };
  readonly batch: {
    /** Days of archive a run reads when only today changed: today and the dedupe horizon's days before. */
    readonly daysReadPerRun: number;
    /** Where `daysReadPerRun` comes from: the plan's rule, or a local batch run. */
    readonly daysReadSource: string;
    /**
     * Walked on the synthesized state machine, for a run that loads each view once: its Athena queries
     * outside the per-view loop (CountSkippedLines, FindDistantCopies) and per load of a view (Query),
     * its state transitions and Lambda tasks, and what each further load of a view adds to them.
     */
    readonly runQueries: number;
    readonly queriesPerLoad: number;
    readonly transitionsPerRun: number;
    readonly transitionsPerExtraLoad: number;
    readonly lambdaTasksPerRun: number;
    readonly lambdaTasksPerExtraLoad: number;
    /** Days one load of a view covers (a full recompute takes several). */
    readonly daysPerLoad: number;
    /**
     * Bytes a run read, from the batch layer's own run statistics (`bench/batch.ts`'s
     * `incrementalBytesRead`), and the events in the days it read: Athena's bytes scanned are scaled
     * from them linearly by events. Absent (the CLI runs no batch), they are modelled: the days a query
     * reads times the archive's gzipped bytes a day.
     */
    readonly scan?: { readonly bytes: number; readonly events: number; readonly source: string };
  };
  /** Read from the synthesized template and the project's settings. */
  readonly deployment: {
    readonly memoryMb: {
      readonly speed: number;
      readonly transform: number;
      readonly marker: number;
      readonly api: number;
      readonly batch: number;
    };
    readonly mappingBatchSize: number;
    readonly firehoseBufferSeconds: number;
    readonly firehoseBufferBytes: number;
    readonly customMetrics: number;
    readonly alarms: number;
    readonly dashboards: number;
    readonly settleMinutes: number;
    readonly speedRetentionHours: number;
  };
}

// Assumptions: figures this model does not measure. Each is listed in a report's `assumptions`.
/**
 * Lambda reads each shard about once a second (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html,
 * "Polling and batching streams"): with a shorter window, an invocation carries a second of records.
 */
export const LAMBDA_POLL_SECONDS = 1;
/** The local pipeline's poll of an idle shard: `KinesisConsumer`'s `pollIntervalMs` default (local/kinesis-consumer.ts). */
export const LOCAL_POLL_MS = 100;
/** What freshness measured locally lacks against Lambda: its poll is LAMBDA_POLL_SECONDS, not LOCAL_POLL_MS. */
export const POLL_ADJUSTMENT_MS = LAMBDA_POLL_SECONDS * 1000 - LOCAL_POLL_MS;
/** A new on-demand stream's capacity (4 MB/s, 4,000 records/s): 4 shards; it keeps 2x its peak. */
export const ON_DEMAND_MIN_SHARDS = 4;
export const SHARD_BYTES_PER_SEC = 1024 * 1024;
export const SHARD_RECORDS_PER_SEC = 1_000;
/** Lambda's synchronous payload limit; a record's data is base64 in it, inside about 500 bytes of fields. */
export const LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024;
export const RECORD_ENVELOPE_BYTES = 500;
/** One DynamoDB UpdateItem round trip from Lambda, as the measured handler waits for it. */
export const DYNAMODB_ROUND_TRIP_MS = 10;
/** The speed processor's concurrent writes (its `writeConcurrency` default). */
export const SPEED_WRITE_CONCURRENCY = 16;
export const API_HANDLER_MS = 50;
export const BATCH_TASK_MS = 1_000;
export const BATCH_TABLE_WRITES_PER_VIEW = 10;
export const LAMBDA_PLATFORM_LOG_BYTES = 400;
export const API_ACCESS_LOG_BYTES = 600;
export const STATE_MACHINE_LOG_BYTES_PER_TRANSITION = 800;
export const MANIFEST_BYTES_PER_DAY = 40;
export const GLUE_REQUESTS_PER_QUERY = 3;
export const ATHENA_RESULT_OBJECTS_PER_QUERY = 2;
/** Firehose's default buffering for a Lambda transform: 1 MB or 60 s (the stack sets neither). */
export const TRANSFORM_BUFFER_BYTES = 1024 * 1024;
export const TRANSFORM_BUFFER_SECONDS = 60;
/** X-Ray's default sampling rule: the first request each second and 5% of the others. */
export const XRAY_RESERVOIR_PER_SEC = 1;
export const XRAY_FIXED_RATE = 0.05;
/** Kinesis consumers of the stream, each reading every record: the speed function and Firehose. */
export const STREAM_CONSUMERS = 2;

/** How the speed function is invoked: per shard, one batch per interval. */
export interface StreamPlan {
  readonly shards: number;
  /** Seconds of a shard's records one invocation carries: the window, or Lambda's once-a-second poll. */
  readonly intervalSeconds: number;
  /** Events an invocation carries: a shard's interval of events, but at least one packed record's. */
  readonly eventsPerInvocation: number;
  /** Records an invocation takes at most: the mapping's batch size, or what fits Lambda's 6 MB payload. */
  readonly maxRecordsPerInvocation: number;
  /** min(shards / interval, packed records/s), or more when the batch size or payload ends batches. */
  readonly invocationsPerSec: number;
  /**
   * What ends a batch: the window (or poll), the mapping's batch size, Lambda's 6 MB payload; or 'record'
   * when a shard gets less than a packed record an interval, so each invocation carries one record.
   */
  readonly boundBy: 'window' | 'record' | 'batch size' | 'payload';
}

/** A stream's records as they are put: how many events each carries and its mean size. */
export interface RecordShape {
  readonly eventsPerRecord: number;
  readonly bytesPerRecord: number;
}

/** The shards a stream needs for this traffic in: 1 MB/s and 1,000 records/s each, no headroom. */
const shardsNeeded = (bytesPerSec: number, recordsPerSec: number): number =>
  Math.max(1, Math.ceil(bytesPerSec / SHARD_BYTES_PER_SEC), Math.ceil(recordsPerSec / SHARD_RECORDS_PER_SEC));

/** A workload's invalid settings, named. */
export class WorkloadError extends Error {
  override readonly name = 'WorkloadError';
}

/** The shards the stream has: provisioned as asked (or enough), on-demand as AWS sizes it. */
export function shardsOf(workload: Workload, records: RecordShape): number {
  const recordsPerSec = workload.eventsPerSec / records.eventsPerRecord;
  const needed = shardsNeeded(recordsPerSec * records.bytesPerRecord, recordsPerSec);
  if (workload.capacity === 'on-demand') return Math.max(ON_DEMAND_MIN_SHARDS, 2 * needed);
  const shards = workload.shards ?? needed;
  if (shards < needed)
    throw new WorkloadError(
      `${workload.eventsPerSec} events/s need ${needed} shards (1,000 records/s and 1 MB/s each), not ${shards}`,
    );
  return shards;
}

/** Seconds of a shard's records one invocation carries: the batching window, or Lambda's poll if longer. */
export const invocationSeconds = (workload: Workload): number =>
  Math.max(workload.batchingWindowSeconds, LAMBDA_POLL_SECONDS);

/**
 * How the speed mapping invokes the function for this traffic, on `shards` shards. Each shard is read
 * once an interval; an invocation needs at least one record, so invocations/s are at most the packed
 * records/s: min(shards / interval, records/s), and each carries events/s over that many events (more
 * invocations only when the mapping's batch size or Lambda's payload ends a batch first).
 */
export function streamPlan(
  workload: Workload,
  records: RecordShape,
  mappingBatchSize: number,
  shards: number,
): StreamPlan {
  const intervalSeconds = invocationSeconds(workload);
  const byInterval = (workload.eventsPerSec / shards) * intervalSeconds;
  // A shard that gets less than a packed record an interval is invoked once per record, not per interval.
  const byWindow = Math.max(byInterval, records.eventsPerRecord);
  const recordPayload = Math.ceil(records.bytesPerRecord / 3) * 4 + RECORD_ENVELOPE_BYTES;
  const payloadRecords = Math.floor(LAMBDA_PAYLOAD_BYTES / recordPayload);
  const maxRecordsPerInvocation = Math.max(1, Math.min(mappingBatchSize, payloadRecords));
  const byRecords = maxRecordsPerInvocation * records.eventsPerRecord;
  const eventsPerInvocation = Math.max(1, Math.min(byWindow, byRecords));
  const boundBy =
    byWindow > byRecords
      ? mappingBatchSize <= payloadRecords
        ? 'batch size'
        : 'payload'
      : byInterval >= records.eventsPerRecord
        ? 'window'
        : 'record';
  return {
    shards,
    intervalSeconds,
    eventsPerInvocation,
    maxRecordsPerInvocation,
    invocationsPerSec: workload.eventsPerSec / eventsPerInvocation,
    boundBy,
  };
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { minute: 60, hour: 3600, day: 86_400 };

/** Values a cron field takes: `*`, `5`, `1,7`, `0-5`, `*\/15`, `10/20`. */
function cronValues(field: string, first: number, last: number): number {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    const [from, to] =
      range === '*'
        ? [first, last]
        : range.includes('-')
          ? range.split('-').map(Number)
          : [Number(range), stepText === undefined ? Number(range) : last];
    if (
      ![step, from, to].every(Number.isInteger) ||
      step < 1 ||
      (from as number) < first ||
      (to as number) > last
    )
      throw new WorkloadError(`cron fields like 0, */15, 0-5 or 1,7, not '${field}'`);
    for (let value = from as number; value <= (to as number); value += step) values.add(value);
  }
  return values.size;
}

/** Batch runs a month for an EventBridge Scheduler expression: `rate(N unit)`, or a cron that runs daily. */
export function runsPerMonth(schedule: string): number {
  const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(schedule);
  if (rate !== null) {
    const seconds = Number(rate[1]) * (UNIT_SECONDS[rate[2] as string] as number);
    if (seconds === 0) throw new WorkloadError('a rate above 0');
    return MONTH_SECONDS / seconds;
  }
  const cron = /^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$/.exec(schedule);
  if (cron === null) throw new WorkloadError(`rate(N unit) or cron(...), not ${schedule}`);
  const [, minutes = '', hours = '', dayOfMonth, month, dayOfWeek, year] = cron;
  const everyDay = (field: string | undefined) => field === '*' || field === '?';
  if (![dayOfMonth, month, dayOfWeek, year].every(everyDay))
    throw new WorkloadError('a cron that runs every day: day, month, weekday and year * or ?');
  return cronValues(minutes, 0, 59) * cronValues(hours, 0, 23) * (MONTH_SECONDS / 86_400);
}

export const SERVICES = [
  'kinesis',
  'firehose',
  'lambda',
  'dynamodb',
  's3',
  'athena',
  'stepFunctions',
  'apiGateway',
  'cloudWatch',
  'xray',
  'scheduler',
  'glue',
] as const;
export type Service = (typeof SERVICES)[number];

/** One line of a bill: a quantity of a price's unit in a month. */
export interface Charge {
  readonly service: Service;
  readonly price: PriceName;
  readonly quantity: number;
  readonly usd: number;
}

export interface Bill {
  readonly charges: readonly Charge[];
  readonly services: Readonly<Record<Service, number>>;
  readonly totalUsd: number;
}

export interface CostReport {
  readonly region: string;
  readonly pricesReadOn: string;
  readonly workload: Workload;
  readonly views: number;
  readonly plan: StreamPlan;
  readonly naivePlan: StreamPlan;
  readonly ours: Bill;
  readonly naive: Bill;
  /**
   * Producer flush + Lambda's poll (up to LAMBDA_POLL_SECONDS before a record is read) + the batching
   * window (which starts when a poll reads the first record) + measured handler time: an estimate of the
   * worst case, not a measurement of freshness.
   */
  readonly freshnessEstimateP99Ms: number;
  /** Where Athena's bytes scanned come from: a batch run's statistics, or the plan's day rule. */
  readonly athenaScan: 'measured' | 'modelled';
  /** Bytes Athena scans per day of archive a query reads. */
  readonly athenaBytesPerDay: number;
  readonly assumptions: readonly string[];
}

/** How a way of building the pipeline uses each service per second (or per run): what differs between ways. */
interface Usage {
  readonly recordsPerSec: number;
  readonly kinesisKbPerRecord: number;
  readonly putUnitsPerRecord: number;
  readonly firehoseBytesPerSec: number;
  readonly shards: number;
  readonly speedInvocationsPerSec: number;
  readonly speedMsPerInvocation: number;
  readonly speedWriteUnitsPerSec: number;
  /** A run's Athena queries, each reading `days` days of archive. */
  readonly queries: readonly { readonly count: number; readonly days: number }[];
  readonly transitionsPerRun: number;
  readonly batchTasksPerRun: number;
}

const perMonth = (perSec: number): number => perSec * MONTH_SECONDS;
/** Traces X-Ray's default rule records of `perSec` requests a second, a month. */
const tracesPerMonth = (perSec: number): number =>
  perMonth(
    Math.min(perSec, XRAY_RESERVOIR_PER_SEC) + XRAY_FIXED_RATE * Math.max(0, perSec - XRAY_RESERVOIR_PER_SEC),
  );
const gbSeconds = (invocations: number, ms: number, memoryMb: number): number =>
  (invocations * Math.ceil(ms) * memoryMb) / 1000 / 1024;
const athenaBilledBytes = (bytes: number): number =>
  Math.max(BILLING_RULES.athenaMinimumPerQuery.bytes, Math.ceil(bytes / 1024 ** 2) * 1024 ** 2);

/**
 * Bytes Athena scans per day of archive a query reads: the batch run's measured bytes per event read,
 * times a day's events (linear in events); or, without a measured run, the archive's gzipped bytes a day.
 */
export function athenaBytesPerDay(workload: Workload, measured: Measured): number {
  const { scan } = measured.batch;
  if (scan !== undefined) return (scan.bytes / scan.events) * workload.eventsPerSec * 86_400;
  const { packing, archive } = measured;
  return (
    workload.eventsPerSec * packing.eventBytes * archive.lineBytesPerEventByte * 86_400 * archive.gzipRatio
  );
}

function bill(workload: Workload, measured: Measured, usage: Usage): Bill {
  const charges: Charge[] = [];
  const charge = (service: Service, price: PriceName, quantity: number) =>
    charges.push({ service, price, quantity, usd: quantity * PRICES[price].usd });
  const { deployment, archive, packing, speed } = measured;
  const { memoryMb } = deployment;
  const runs = runsPerMonth(workload.batchSchedule);
  const lineBytesPerSec = workload.eventsPerSec * packing.eventBytes * archive.lineBytesPerEventByte;
  const gzBytesPerDay = lineBytesPerSec * 86_400 * archive.gzipRatio;
  const scannedPerDay = athenaBytesPerDay(workload, measured);

  // Kinesis: the stream, and its two consumers' reads.
  if (workload.capacity === 'on-demand') {
    const kbPerSec = usage.recordsPerSec * usage.kinesisKbPerRecord;
    charge('kinesis', 'kinesisOnDemandStreamHour', MONTH_SECONDS / 3600);
    const kb = BILLING_RULES.kinesisOnDemandRecord.bytes;
    charge('kinesis', 'kinesisOnDemandIngestGb', (perMonth(kbPerSec) * kb) / GB);
    charge('kinesis', 'kinesisOnDemandRetrievalGb', (STREAM_CONSUMERS * perMonth(kbPerSec) * kb) / GB);
  } else {
    charge('kinesis', 'kinesisShardHour', (usage.shards * MONTH_SECONDS) / 3600);
    charge(
      'kinesis',
      'kinesisPutPayloadUnitsMillion',
      perMonth(usage.recordsPerSec * usage.putUnitsPerRecord) / 1e6,
    );
  }

  // Firehose: ingestion, dynamic partitioning (per GB and per object), its transform and the marker.
  const flushSeconds = Math.min(
    deployment.firehoseBufferSeconds,
    deployment.firehoseBufferBytes / lineBytesPerSec,
  );
  const objectsPerSec = 1 / flushSeconds;
  charge('firehose', 'firehoseIngestGb', perMonth(usage.firehoseBytesPerSec) / GB);
  charge('firehose', 'firehoseDynamicPartitioningGb', perMonth(lineBytesPerSec) / GB);
  charge('firehose', 'firehoseDynamicPartitioningObjects1000', perMonth(objectsPerSec) / 1000);
  const transformSeconds = Math.min(
    TRANSFORM_BUFFER_SECONDS,
    TRANSFORM_BUFFER_BYTES / (workload.eventsPerSec * packing.eventBytes),
  );
  const transformMs = archive.transformMsPerEvent * workload.eventsPerSec * transformSeconds;

  // Lambda: the speed function, the transform, the marker, the API, the batch steps.
  const apiRequestsPerSec = (workload.dashboards * speed.views.length) / workload.dashboardRefreshSeconds;
  const batchTasks = usage.batchTasksPerRun * runs;
  const invocations =
    perMonth(usage.speedInvocationsPerSec + 1 / transformSeconds + objectsPerSec + apiRequestsPerSec) +
    batchTasks;
  charge('lambda', 'lambdaRequestsMillion', invocations / 1e6);
  charge(
    'lambda',
    'lambdaArmGbSecond',
    gbSeconds(perMonth(usage.speedInvocationsPerSec), usage.speedMsPerInvocation, memoryMb.speed) +
      gbSeconds(perMonth(1 / transformSeconds), transformMs, memoryMb.transform) +
      gbSeconds(perMonth(objectsPerSec), archive.markerMsPerObject, memoryMb.marker) +
      gbSeconds(perMonth(apiRequestsPerSec), API_HANDLER_MS, memoryMb.api) +
      gbSeconds(batchTasks, BATCH_TASK_MS, memoryMb.batch),
  );

  // DynamoDB: speed writes, the marker's and the batch layer's; the dashboards' reads; speed items kept.
  charge(
    'dynamodb',
    'dynamodbWriteUnitsMillion',
    (perMonth(usage.speedWriteUnitsPerSec + objectsPerSec * archive.markerWritesPerObject) +
      runs * BATCH_TABLE_WRITES_PER_VIEW * speed.views.length) /
      1e6,
  );
  const runIntervalMs = (MONTH_SECONDS * 1000) / runs;
  const readUnitsPerRefresh = speed.views.reduce((units, view) => {
    // Speed buckets served: from the watermark (settle, half a run interval and half a bucket behind) to now.
    const speedMs = deployment.settleMinutes * 60_000 + runIntervalMs / 2 + view.bucketMs / 2;
    const speedBytes = (speedMs / view.bucketMs) * view.groupsPerBucket * view.itemBytes;
    const eventuallyConsistent = Math.ceil(speedBytes / BILLING_RULES.dynamodbReadUnit.bytes) / 2;
    const manifest = Math.ceil(
      (workload.archiveDays * MANIFEST_BYTES_PER_DAY) / BILLING_RULES.dynamodbReadUnit.bytes,
    );
    return units + eventuallyConsistent + manifest;
  }, 0);
  charge(
    'dynamodb',
    'dynamodbReadUnitsMillion',
    perMonth(
      (workload.dashboards * readUnitsPerRefresh) / workload.dashboardRefreshSeconds +
        speed.plan.invocationsPerSec * speed.readUnitsPerInvocation,
    ) / 1e6,
  );
  const speedItemBytes = speed.views.reduce(
    (bytes, view) =>
      bytes +
      ((deployment.speedRetentionHours * 3_600_000) / view.bucketMs) * view.groupsPerBucket * view.itemBytes,
    0,
  );
  charge('dynamodb', 'dynamodbStorageGbMonth', speedItemBytes / GB);

  // S3: the archive kept, Firehose's PUTs, Athena's GETs of every object its queries read, its results.
  const objectsPerDay = objectsPerSec * 86_400;
  const queries = usage.queries.reduce((count, query) => count + query.count, 0);
  charge('s3', 's3StorageGbMonth', (gzBytesPerDay * workload.archiveDays) / GB);
  charge(
    's3',
    's3PutRequests1000',
    (perMonth(objectsPerSec) + runs * queries * ATHENA_RESULT_OBJECTS_PER_QUERY) / 1000,
  );
  const objectsRead = usage.queries.reduce(
    (objects, query) => objects + query.count * query.days * objectsPerDay,
    0,
  );
  charge('s3', 's3GetRequests1000', (runs * objectsRead) / 1000);

  // Athena, Step Functions, the scheduler, Glue: per run.
  const scanned = usage.queries.reduce(
    (bytes, query) => bytes + query.count * athenaBilledBytes(query.days * scannedPerDay),
    0,
  );
  charge('athena', 'athenaScannedTb', (runs * scanned) / TB);
  charge('stepFunctions', 'stepFunctionsTransitions1000', (runs * usage.transitionsPerRun) / 1000);
  charge('scheduler', 'schedulerInvocationsMillion', runs / 1e6);
  charge('glue', 'glueRequestsMillion', (runs * queries * GLUE_REQUESTS_PER_QUERY) / 1e6);

  // The dashboards' API requests.
  charge('apiGateway', 'apiGatewayRestRequestsMillion', perMonth(apiRequestsPerSec) / 1e6);

  // CloudWatch: the metrics, alarms and dashboard the stack defines, and every log line.
  charge('cloudWatch', 'cloudWatchMetricMonth', deployment.customMetrics);
  charge('cloudWatch', 'cloudWatchAlarmMonth', deployment.alarms);
  charge('cloudWatch', 'cloudWatchDashboardMonth', deployment.dashboards);
  const logBytes =
    perMonth(
      usage.speedInvocationsPerSec * (LAMBDA_PLATFORM_LOG_BYTES + speed.emfBytesPerInvocation) +
        (1 / transformSeconds + objectsPerSec) * LAMBDA_PLATFORM_LOG_BYTES +
        apiRequestsPerSec * (LAMBDA_PLATFORM_LOG_BYTES + API_ACCESS_LOG_BYTES),
    ) +
    batchTasks * LAMBDA_PLATFORM_LOG_BYTES +
    runs * usage.transitionsPerRun * STATE_MACHINE_LOG_BYTES_PER_TRANSITION;
  charge('cloudWatch', 'cloudWatchLogsIngestGb', logBytes / GB);

  // X-Ray: every function and the API and state machine trace (active tracing, default sampling).
  charge(
    'xray',
    'xrayTracesMillion',
    (tracesPerMonth(usage.speedInvocationsPerSec) +
      tracesPerMonth(1 / transformSeconds) +
      tracesPerMonth(objectsPerSec) +
      tracesPerMonth(apiRequestsPerSec) +
      runs) /
      1e6,
  );

  const services = Object.fromEntries(SERVICES.map((service) => [service, 0])) as Record<Service, number>;
  for (const { service, usd } of charges) services[service] += usd;
  return { charges, services, totalUsd: charges.reduce((total, { usd }) => total + usd, 0) };
}

const unitsOf = (bytes: number, unitBytes: number) => Math.ceil(bytes / unitBytes);

/**
 * The monthly bill of `workload` built as driftless builds it (packed records, pre-aggregated speed
 * writes, dirty days only) and the naive way (a record per event, a write per event and view, every
 * run recomputing the whole archive), from the figures measured for this workload.
 */
export function monthlyCost(workload: Workload, measured: Measured): CostReport {
  const { speed, packing, batch, deployment } = measured;
  const rate = workload.eventsPerSec;
  const views = speed.views.length;
  const firehoseUnit = BILLING_RULES.firehoseRecord.bytes;
  const perEventFirehoseBytes = unitsOf(packing.eventBytes, firehoseUnit) * firehoseUnit;

  // Ours: every query reads today (half full, on average) and the horizon's full days before it.
  const oursDays = batch.daysReadPerRun - 0.5;
  const ours: Usage = {
    recordsPerSec: rate / packing.eventsPerRecord,
    kinesisKbPerRecord: packing.kinesisKbPerRecord,
    putUnitsPerRecord: packing.putUnitsPerRecord,
    firehoseBytesPerSec:
      workload.firehoseBilledPer === 'stream-record'
        ? (rate / packing.eventsPerRecord) * packing.firehoseUnitsPerRecord * firehoseUnit
        : rate * perEventFirehoseBytes,
    shards: speed.plan.shards,
    speedInvocationsPerSec: speed.plan.invocationsPerSec,
    speedMsPerInvocation: speed.handlerMsPerInvocation,
    speedWriteUnitsPerSec:
      speed.plan.invocationsPerSec * speed.writesPerInvocation * speed.writeUnitsPerWrite,
    queries: [{ count: batch.runQueries + views * batch.queriesPerLoad, days: oursDays }],
    transitionsPerRun: batch.transitionsPerRun,
    batchTasksPerRun: batch.lambdaTasksPerRun,
  };

  // Naive: one record per event, on enough shards for them; the handler writes each event to each view
  // it counts in (one write unit each), SPEED_WRITE_CONCURRENCY at a time; every run recomputes the whole
  // archive, a view in `loads` loads.
  const naiveRecords: RecordShape = { eventsPerRecord: 1, bytesPerRecord: packing.eventBytes };
  const naiveShards =
    workload.capacity === 'provisioned'
      ? Math.max(speed.plan.shards, shardsNeeded(rate * packing.eventBytes, rate))
      : shardsOf(workload, naiveRecords);
  const naivePlan = streamPlan(workload, naiveRecords, deployment.mappingBatchSize, naiveShards);
  const naiveWritesPerEvent = speed.views.reduce((writes, view) => writes + view.countedShare, 0);
  const naiveWritesPerInvocation = naivePlan.eventsPerInvocation * naiveWritesPerEvent;
  const loads = Math.ceil(workload.archiveDays / batch.daysPerLoad);
  const extraLoads = views * (loads - 1);
  const naive: Usage = {
    recordsPerSec: rate,
    kinesisKbPerRecord: unitsOf(packing.eventBytes, BILLING_RULES.kinesisOnDemandRecord.bytes),
    putUnitsPerRecord: unitsOf(packing.eventBytes, BILLING_RULES.kinesisPutPayloadUnit.bytes),
    firehoseBytesPerSec: rate * perEventFirehoseBytes,
    shards: naiveShards,
    speedInvocationsPerSec: naivePlan.invocationsPerSec,
    speedMsPerInvocation:
      speed.computeMsPerEvent * naivePlan.eventsPerInvocation +
      Math.ceil(naiveWritesPerInvocation / SPEED_WRITE_CONCURRENCY) * DYNAMODB_ROUND_TRIP_MS,
    speedWriteUnitsPerSec: rate * naiveWritesPerEvent,
    queries: [
      { count: batch.runQueries, days: workload.archiveDays },
      { count: views * loads * batch.queriesPerLoad, days: workload.archiveDays / loads },
    ],
    transitionsPerRun: batch.transitionsPerRun + extraLoads * batch.transitionsPerExtraLoad,
    batchTasksPerRun: batch.lambdaTasksPerRun + extraLoads * batch.lambdaTasksPerExtraLoad,
  };

  return {
    region: PRICED_REGION,
    pricesReadOn: PRICES_READ_ON,
    workload,
    views,
    plan: speed.plan,
    naivePlan,
    ours: bill(workload, measured, ours),
    naive: bill(workload, measured, naive),
    freshnessEstimateP99Ms: Math.round(
      (workload.producerFlushSeconds + LAMBDA_POLL_SECONDS + workload.batchingWindowSeconds) * 1000 +
        speed.handlerMsPerInvocation,
    ),
    athenaScan: batch.scan === undefined ? 'modelled' : 'measured',
    athenaBytesPerDay: Math.round(athenaBytesPerDay(workload, measured)),
    assumptions: assumptionsOf(workload, measured, naivePlan, loads),
  };
}

const boundText = (plan: StreamPlan) =>
  plan.boundBy === 'record'
    ? 'one packed record each: a shard gets less than one a poll'
    : `ended by the ${plan.boundBy}`;
const percent = (share: number) => `${Math.round(share * 1000) / 10}%`;

/** Every figure the report rests on that was not measured, and where the measured ones come from. */
function assumptionsOf(
  workload: Workload,
  measured: Measured,
  naivePlan: StreamPlan,
  loads: number,
): string[] {
  const { speed, packing, archive, batch, deployment } = measured;
  const { plan } = speed;
  return [
    `prices: ${PRICED_REGION} list prices read on ${PRICES_READ_ON} (cost/prices.ts, each with its AWS page); no free tier, no taxes, no data transfer out`,
    `a month is ${MONTH_SECONDS / 3600} hours; per-GB and per-TB prices are taken per 2^30 and 2^40 bytes (AWS bills GB as 2^30 bytes for most services); record rounding is in decimal KB, as the Kinesis page's "a 1 MB record is 40 PUT payload units" implies: Kinesis on-demand ${BILLING_RULES.kinesisOnDemandRecord.bytes} bytes, PUT payload units ${BILLING_RULES.kinesisPutPayloadUnit.bytes}, Firehose ${BILLING_RULES.firehoseRecord.bytes}; DynamoDB's write unit ${BILLING_RULES.dynamodbWriteUnit.bytes} bytes and read unit ${BILLING_RULES.dynamodbReadUnit.bytes}`,
    `traffic is steady at ${workload.eventsPerSec} events/s of ${packing.eventBytes} bytes all month, spread evenly over the shards; every event is an order (views over other catalogs, such as page_views, count none and are priced for their reads and queries only), and every view's queries scan the whole archive's day`,
    `producers put straight to Kinesis, packing with packRecords what they gathered in ${workload.producerFlushSeconds * 1000} ms (at most 500 events a PutRecords): ${packing.eventsPerRecord.toFixed(1)} events and ${Math.round(packing.bytesPerRecord)} bytes a record (measured); POST /events is not priced`,
    workload.capacity === 'on-demand'
      ? `on-demand stream: at least ${ON_DEMAND_MIN_SHARDS} shards (a new stream's 4 MB/s), twice those the traffic needs: ${plan.shards}; ${STREAM_CONSUMERS} consumers (the speed function, Firehose) each read every record, billed like writes (1 KB a record)`
      : `provisioned stream of ${plan.shards} shards (each takes 1 MB/s and 1,000 records/s, no headroom); reads are free within the shards' 2 MB/s`,
    `the speed mapping: Lambda reads each shard about every ${LAMBDA_POLL_SECONDS} s, so an invocation carries ${plan.intervalSeconds} s of a shard's records, but at least one packed record (invocations/s = min(shards / interval, records/s)): ${Math.round(plan.eventsPerInvocation)} events (${boundText(plan)}), ${plan.invocationsPerSec.toFixed(2)} invocations/s`,
    `speed writes: ${speed.writesPerInvocation.toFixed(1)} UpdateItems an invocation of ${Math.round(plan.eventsPerInvocation)} events, ${speed.writeUnitsPerWrite.toFixed(2)} write units each, and ${speed.readUnitsPerInvocation.toFixed(1)} read units an invocation for distinct measures' merges (measured: the speed processor over demo orders, items sized as DynamoDB counts them)`,
    `speed handler: ${speed.handlerMsPerInvocation.toFixed(1)} ms an invocation (measured, with each DynamoDB round trip taken as ${DYNAMODB_ROUND_TRIP_MS} ms), ${deployment.memoryMb.speed} MB arm64`,
    `freshness estimate: producer flush (${workload.producerFlushSeconds * 1000} ms) + Lambda's poll (up to ${LAMBDA_POLL_SECONDS} s before a record is read) + the ${workload.batchingWindowSeconds} s window (from that read) + the handler's time; the bench measures it on the local pipeline (which polls every ${LOCAL_POLL_MS} ms) and adds ${POLL_ADJUSTMENT_MS} ms`,
    `archive: the transform's JSON lines are ${percent(archive.lineBytesPerEventByte)} of an event's bytes, gzip keeps ${percent(archive.gzipRatio)} of them (measured on demo orders; real events of this size are assumed to compress alike)`,
    `Firehose: one active day partition, an object every ${deployment.firehoseBufferSeconds} s or ${deployment.firehoseBufferBytes / 1024 ** 2} MiB (the template's buffering); its transform is invoked every ${TRANSFORM_BUFFER_BYTES / 1024 ** 2} MB or ${TRANSFORM_BUFFER_SECONDS} s (Firehose's default)`,
    workload.firehoseBilledPer === 'stream-record'
      ? 'Firehose rounds each Kinesis record it reads up to 5 KB, not each event packed in it: its pricing page does not say which; --firehose-billed-per user-record prices the other reading'
      : 'Firehose rounds each event packed in a Kinesis record up to 5 KB (the pessimistic reading of its pricing page)',
    `batch runs: ${runsPerMonth(workload.batchSchedule).toFixed(0)} a month (${workload.batchSchedule}); each reads ${batch.daysReadPerRun} days (${batch.daysReadSource}), today half full on average, with ${batch.runQueries + speed.views.length * batch.queriesPerLoad} Athena queries each scanning all of it (JSON lines are not columnar), one S3 GET per object read`,
    batch.scan === undefined
      ? `Athena bytes scanned: modelled, not measured (no batch run here): the days each query reads (the plan's day rule) times the archive's gzipped bytes a day (${Math.round(athenaBytesPerDay(workload, measured) / 1e6)} MB); \`npm run bench -- cost\` takes them from a batch run's statistics`
      : `Athena bytes scanned: from the batch layer's run statistics: ${batch.scan.bytes} bytes read by a run over ${batch.scan.events} events (${batch.scan.source}), scaled linearly by events to ${workload.eventsPerSec * 86_400} a day: ${Math.round(athenaBytesPerDay(workload, measured) / 1e6)} MB a day of archive (the archive's gzipped JSON lines are modelled at ${Math.round((workload.eventsPerSec * packing.eventBytes * archive.lineBytesPerEventByte * 86_400 * archive.gzipRatio) / 1e6)} MB a day)`,
    `Step Functions: ${batch.transitionsPerRun} transitions a run (walked on the synthesized state machine); batch steps take ${BATCH_TASK_MS} ms each and write ${BATCH_TABLE_WRITES_PER_VIEW} items per view a run (assumed)`,
    `the archive keeps ${workload.archiveDays} days (S3 storage as in a year's time)`,
    `${workload.dashboards} dashboard(s) open all month, each asking for every view's series every ${workload.dashboardRefreshSeconds} s; the API function takes ${API_HANDLER_MS} ms a request (assumed) and reads the speed items from the watermark on, eventually consistent, and the manifest (${MANIFEST_BYTES_PER_DAY} bytes a day kept)`,
    `logs: ${LAMBDA_PLATFORM_LOG_BYTES} bytes of Lambda's own lines per invocation, ${API_ACCESS_LOG_BYTES} per API access log line, ${STATE_MACHINE_LOG_BYTES_PER_TRANSITION} per state machine transition, the speed handler's EMF line (${Math.round(speed.emfBytesPerInvocation)} bytes, measured)`,
    `X-Ray samples each traced function ${XRAY_RESERVOIR_PER_SEC} request/s and ${percent(XRAY_FIXED_RATE)} of the rest; each batch run is one trace`,
    "not priced: KMS (the stream's AWS-managed key), SQS, SNS, S3 access logs, EventBridge (S3 events on the default bus are free), exports, Glue storage",
    `naive: a Kinesis record per event (${naivePlan.shards} shards, invocations of ${Math.round(naivePlan.eventsPerInvocation)} events, ${boundText(naivePlan)}); one write unit per event per view it counts in (${speed.views
      .map((view) => `${view.name} ${percent(view.countedShare)}`)
      .join(
        ', ',
      )}); Firehose bills every event 5 KB; every run recomputes all ${workload.archiveDays} days (${loads} loads a view)`,
  ];
}

/** Freshness p99 of the speed layer, and how it was had (measured, or estimated). */
export interface Freshness {
  readonly p99Ms: number;
  readonly source: string;
}

const cents = (usd: number) => Math.round(usd * 100) / 100;
const servicesOf = (bill: Bill) =>
  Object.fromEntries(SERVICES.map((service) => [service, cents(bill.services[service])]));

/** A report's headline figures: what `driftless cost --json` and `npm run bench -- cost` print. */
export function costSummary(report: CostReport, freshness: Freshness) {
  const { workload } = report;
  return {
    eventsPerSec: workload.eventsPerSec,
    eventBytes: workload.eventBytes,
    views: report.views,
    capacity: workload.capacity,
    shards: report.plan.shards,
    batchingWindowSeconds: workload.batchingWindowSeconds,
    batchSchedule: workload.batchSchedule,
    dashboards: workload.dashboards,
    firehoseBilledPer: workload.firehoseBilledPer,
    monthlyUsd: cents(report.ours.totalUsd),
    naiveMonthlyUsd: cents(report.naive.totalUsd),
    freshnessP99Ms: freshness.p99Ms,
    freshnessSource: freshness.source,
    athenaScan: report.athenaScan,
    athenaBytesPerDay: report.athenaBytesPerDay,
    ...servicesOf(report.ours),
    naive: servicesOf(report.naive),
    region: report.region,
    pricesReadOn: report.pricesReadOn,
  };
}
