import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  type _Record as KinesisRecord,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { unpackRecord } from '../functions/adapters/kinesis-aggregation';
import { type EventSourceSettings, SPEED_EVENT_SOURCE } from '../functions/speed/settings';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './emulators';
import { lambdaKinesisRecord } from './lambda-kinesis-record';

/** Any Lambda handler: what it returns is read as Lambda reads it, as a partial batch response or nothing. */
export type KinesisHandler = (event: KinesisStreamEvent) => Promise<unknown>;

/** What Lambda sends to an on-failure destination when it gives up on a batch. */
export interface FailedBatch {
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  readonly batchSize: number;
  readonly condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
  readonly errorMessage: string | null;
}

/** Where each shard's reading position is kept between runs. */
export interface CheckpointStore {
  get(shardId: string): Promise<string | null>;
  set(shardId: string, sequenceNumber: string): Promise<void>;
}

export class MemoryCheckpoints implements CheckpointStore {
  readonly positions = new Map<string, string>();
  async get(shardId: string) {
    return this.positions.get(shardId) ?? null;
  }
  async set(shardId: string, sequenceNumber: string) {
    this.positions.set(shardId, sequenceNumber);
  }
}

export interface KinesisConsumerOptions {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly handler: KinesisHandler;
  readonly onFailure: (failure: FailedBatch) => Promise<void>;
  readonly settings?: Partial<EventSourceSettings>;
  readonly checkpoints?: CheckpointStore;
  /** Wait between polls of a shard with nothing new. @default 100 */
  readonly pollIntervalMs?: number;
  /** Wait before a retry. @default 50 ms times the attempt, at most 1 s */
  readonly retryDelayMs?: (attempt: number) => number;
  /** How often new shards (after a reshard) are looked for. @default 500 */
  readonly discoveryIntervalMs?: number;
}

export interface ConsumerStats {
  invocations: number;
  retries: number;
  bisections: number;
  failedBatches: number;
  /** User records (events) done: one per plain Kinesis record, each of a packed one's. */
  records: number;
  /** Kinesis records done, packed or plain. */
  kinesisRecords: number;
}

/** The user records a Kinesis record holds: those it packs, or itself (plain, or packed but undecodable). */
function userRecordCount(record: KinesisRecord): number {
  try {
    return unpackRecord(record.Data ?? new Uint8Array())?.length ?? 1;
  } catch {
    return 1;
  }
}

interface ShardState {
  shard: Shard;
  done: boolean;
  idle: boolean;
  /** Every record that arrived on the shard before this time (epoch ms) has been handled; 0: none known. */
  handledThrough: number;
  run?: Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Lambda passes a batch "up to the payload limit for synchronous invocation (6 MB)", whatever the batch
 * size (https://docs.aws.amazon.com/lambda/latest/dg/API_EventSourceMappingConfiguration.html, BatchSize).
 * Packed records (25 KiB each) reach it at about 180 records.
 */
export const MAX_INVOCATION_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** What a record adds to the event beside its base64 data (names, ids, ARNs), at most. */
const RECORD_ENVELOPE_BYTES = 1024;
const payloadBytesOf = (record: KinesisRecord) =>
  4 * Math.ceil((record.Data?.length ?? 0) / 3) + RECORD_ENVELOPE_BYTES;

/** How many of the buffered records one invocation takes: at most `batchSize`, within the payload limit. */
export function invocationLength(buffer: readonly KinesisRecord[], batchSize: number): number {
  let bytes = 0;
  let length = 0;
  for (const record of buffer.slice(0, batchSize)) {
    bytes += payloadBytesOf(record);
    if (length > 0 && bytes > MAX_INVOCATION_PAYLOAD_BYTES) break;
    length++;
  }
  return length;
}

/**
 * Lambda's Kinesis event source mapping, emulated over kinesalite: per shard, in order, one batch
 * at a time (ParallelizationFactor 1), with Lambda's event shape, batching window, 6 MB payload limit,
 * partial batch responses, bisect on error, bounded retries and record age, then the on-failure destination;
 * a child shard is read once its parents are finished.
 */
export class KinesisConsumer {
  readonly stats: ConsumerStats = {
    invocations: 0,
    retries: 0,
    bisections: 0,
    failedBatches: 0,
    records: 0,
    kinesisRecords: 0,
  };
  private readonly settings: EventSourceSettings;
  private readonly checkpoints: CheckpointStore;
  private readonly shards = new Map<string, ShardState>();
  private stopping = false;
  private discovery?: Promise<void>;

  constructor(private readonly options: KinesisConsumerOptions) {
    this.settings = { ...SPEED_EVENT_SOURCE, ...options.settings };
    this.checkpoints = options.checkpoints ?? new MemoryCheckpoints();
  }

  start(): void {
    this.discovery = this.discover();
  }

  /** Finishes the batch in hand on every shard, then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.discovery;
    await Promise.all([...this.shards.values()].map((state) => state.run));
  }

  /** True when every known shard is finished, or started with nothing buffered, in flight or newly read. */
  get idle(): boolean {
    return [...this.shards.values()].every((state) => state.done || (state.run !== undefined && state.idle));
  }

  private async discover(): Promise<void> {
    while (!this.stopping) {
      const { Shards } = await this.options.kinesis.send(
        new ListShardsCommand({ StreamName: this.options.streamName }),
      );
      for (const shard of Shards ?? []) {
        const id = shard.ShardId as string;
        if (!this.shards.has(id)) this.shards.set(id, { shard, done: false, idle: false, handledThrough: 0 });
      }
      for (const state of this.shards.values()) {
        if (state.run !== undefined || !this.parentsDone(state.shard)) continue;
        state.run = this.readShard(state).catch((error) => {
          console.error(`kinesis consumer: shard ${state.shard.ShardId} stopped`, error);
        });
      }
      await sleep(this.options.discoveryIntervalMs ?? 500);
    }
  }

  /**
   * The arrival time the consumer has handled every record before, over all shards (epoch ms): per shard,
   * the time of the last read that reached the shard's tip, once every record read up to it is handled
   * (done, or given up on). A finished shard counts as handled through any time; 0 before the first read.
   */
  get handledThrough(): number {
    const states = [...this.shards.values()];
    if (states.length === 0) return 0;
    return Math.min(...states.map((state) => (state.done ? Number.POSITIVE_INFINITY : state.handledThrough)));
  }

  /**
   * Waits until every record that arrived before `through` is handled, or `timeoutMs` passes; resolves to
   * `handledThrough` then.
   */
  async handledPast(through: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.handledThrough < through && Date.now() < deadline && !this.stopping)
      await sleep(Math.min(20, this.options.pollIntervalMs ?? 100));
    return this.handledThrough;
  }

  private parentsDone(shard: Shard): boolean {
    return [shard.ParentShardId, shard.AdjacentParentShardId].every((parent) => {
      if (parent === undefined) return true;
      const state = this.shards.get(parent);
      return state === undefined || state.done;
    });
  }

  private async readShard(state: ShardState): Promise<void> {
    const shardId = state.shard.ShardId as string;
    const { kinesis, streamName } = this.options;
    const checkpoint = await this.checkpoints.get(shardId);
    const { ShardIterator } = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shardId,
        ...(checkpoint === null
          ? { ShardIteratorType: 'TRIM_HORIZON' }
          : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: checkpoint }),
      }),
    );
    let iterator = ShardIterator;
    const buffer: KinesisRecord[] = [];
    let windowStart = 0;
    /** When the last read that reached the shard's tip was sent: every record before it is read. */
    let readThrough = 0;
    while (!this.stopping) {
      let fetched = 0;
      if (iterator !== undefined && buffer.length < this.settings.batchSize) {
        const sentAt = Date.now();
        const page = await kinesis.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: this.settings.batchSize }),
        );
        iterator = page.NextShardIterator;
        fetched = page.Records?.length ?? 0;
        // A page short of the limit reached the tip as of when it was asked for.
        if (fetched < this.settings.batchSize) readThrough = sentAt;
        if (fetched > 0 && buffer.length === 0) windowStart = Date.now();
        buffer.push(...(page.Records ?? []));
      }
      if (buffer.length === 0) {
        state.handledThrough = Math.max(state.handledThrough, readThrough);
        if (iterator === undefined) break; // a closed shard, read to its end
        state.idle = fetched === 0;
        await sleep(this.options.pollIntervalMs ?? 100);
        continue;
      }
      state.idle = false;
      const windowLeft = windowStart + this.settings.maximumBatchingWindowMs - Date.now();
      const length = invocationLength(buffer, this.settings.batchSize);
      const full = length < buffer.length || buffer.length >= this.settings.batchSize;
      if (!full && windowLeft > 0 && iterator !== undefined) {
        if (fetched === 0) await sleep(Math.min(windowLeft, this.options.pollIntervalMs ?? 100));
        continue;
      }
      const batch = buffer.splice(0, length);
      await this.deliver(shardId, batch);
      if (buffer.length === 0) state.handledThrough = Math.max(state.handledThrough, readThrough);
      windowStart = Date.now();
    }
    state.done = iterator === undefined;
    state.idle = true;
  }

  private async deliver(shardId: string, batch: KinesisRecord[]): Promise<void> {
    const pending: KinesisRecord[][] = [batch];
    const maxRetries = this.settings.maximumRetryAttempts;
    while (pending.length > 0) {
      let current = pending.shift() ?? [];
      let attempts = 0;
      while (current.length > 0) {
        const oldest = current[0]?.ApproximateArrivalTimestamp?.getTime() ?? Date.now();
        if (
          this.settings.maximumRecordAgeMs !== null &&
          Date.now() - oldest > this.settings.maximumRecordAgeMs
        ) {
          await this.giveUp(shardId, current, 'RecordAgeExceeded', null);
          break;
        }
        const outcome = await this.invoke(shardId, current);
        if (outcome.kind === 'success') {
          await this.checkpoints.set(shardId, current.at(-1)?.SequenceNumber as string);
          this.done(current);
          break;
        }
        if (outcome.kind === 'partial') {
          // Records before the reported one are done; the retry starts at it.
          const done = current.slice(0, outcome.index);
          if (done.length > 0) await this.checkpoints.set(shardId, done.at(-1)?.SequenceNumber as string);
          this.done(done);
          current = current.slice(outcome.index);
          attempts++;
        } else if (this.settings.bisectBatchOnFunctionError && current.length > 1) {
          // Splitting does not count as a retry, as in Lambda.
          const half = Math.ceil(current.length / 2);
          pending.unshift(current.slice(half));
          current = current.slice(0, half);
          this.stats.bisections++;
          continue;
        } else {
          attempts++;
        }
        if (maxRetries >= 0 && attempts > maxRetries) {
          await this.giveUp(
            shardId,
            current,
            'RetryAttemptsExhausted',
            outcome.kind === 'error' ? outcome.message : null,
          );
          break;
        }
        this.stats.retries++;
        await sleep(this.options.retryDelayMs?.(attempts) ?? Math.min(1000, 50 * attempts));
      }
    }
  }

  private done(records: readonly KinesisRecord[]): void {
    this.stats.kinesisRecords += records.length;
    for (const record of records) this.stats.records += userRecordCount(record);
  }

  private async invoke(
    shardId: string,
    records: KinesisRecord[],
  ): Promise<{ kind: 'success' } | { kind: 'partial'; index: number } | { kind: 'error'; message: string }> {
    this.stats.invocations++;
    let response: unknown;
    try {
      response = await this.options.handler(this.toEvent(shardId, records));
    } catch (error) {
      return { kind: 'error', message: (error as Error).message };
    }
    const failures = (response as Partial<KinesisStreamBatchResponse> | undefined)?.batchItemFailures ?? [];
    if (failures.length === 0) return { kind: 'success' };
    // As Lambda: retry from the lowest reported record; an unknown or empty identifier fails the whole batch.
    const indexes = failures.map((failure) =>
      records.findIndex((record) => record.SequenceNumber === failure.itemIdentifier),
    );
    if (indexes.some((index) => index < 0))
      return { kind: 'error', message: 'invalid batchItemFailures identifier' };
    return { kind: 'partial', index: Math.min(...indexes) };
  }

  private async giveUp(
    shardId: string,
    records: KinesisRecord[],
    condition: FailedBatch['condition'],
    errorMessage: string | null,
  ): Promise<void> {
    this.stats.failedBatches++;
    await this.options.onFailure({
      shardId,
      startSequenceNumber: records[0]?.SequenceNumber as string,
      endSequenceNumber: records.at(-1)?.SequenceNumber as string,
      batchSize: records.length,
      condition,
      errorMessage,
    });
    // Lambda moves past a batch it sent to the on-failure destination.
    await this.checkpoints.set(shardId, records.at(-1)?.SequenceNumber as string);
  }

  private toEvent(shardId: string, records: KinesisRecord[]): KinesisStreamEvent {
    const source = {
      streamArn: `arn:aws:kinesis:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stream/${this.options.streamName}`,
      roleArn: 'arn:aws:iam::000000000000:role/driftless-local',
    };
    return {
      Records: records.map((record) =>
        lambdaKinesisRecord(source, {
          shardId,
          sequenceNumber: record.SequenceNumber as string,
          partitionKey: record.PartitionKey as string,
          data: record.Data ?? new Uint8Array(),
          arrivalMs: record.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
        }),
      ),
    };
  }
}
