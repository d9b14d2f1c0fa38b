import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import pLimit from 'p-limit';
import { applyAboveCheckpoint, applyAfterRead, MergeContendedError } from '../adapters/checkpointed-write';
import type { SpeedDelta, SpeedStore } from '../adapters/dynamo-speed-store';
import {
  MalformedAggregatedRecordError,
  mayBeAggregated,
  unpackRecord,
} from '../adapters/kinesis-aggregation';
import { SPEED_METRICS } from '../commons/metrics';
import {
  compareSequenceNumbers,
  type DecodedEvent,
  decodeRecord,
  deltaAfter,
  type EventCatalogs,
  hasDistinctMeasure,
  type InvalidRecord,
  mergedSketches,
  padSequence,
  planSpeedWrites,
  type SpeedKeyPlan,
  type StreamRecord,
  speedItemWrites,
  type ViewDefinition,
} from '../core';
import { CountedViews, type ViewRegistry } from './counted-views';
import type { LatenessRecorder } from './lateness';
import type { Quarantine } from './quarantine';

export interface SpeedProcessorOptions {
  /** The stack's event catalogs: each event is decoded by the one its `type` names. */
  readonly catalogs: EventCatalogs;
  readonly views: readonly ViewDefinition[];
  readonly store: SpeedStore;
  readonly quarantine: Quarantine;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** How long a speed item outlives its bucket before TTL may delete it. */
  readonly retentionMs: number;
  /** Parallel DynamoDB writes per batch. @default 16 */
  readonly writeConcurrency?: number;
  readonly now?: () => number;
  /** Records how late the counted events arrived (`./lateness.ts`). @default none */
  readonly lateness?: LatenessRecorder;
  /**
   * Where the code's view versions are registered before they are counted, and the versions the manifests
   * still serve are read from, to count them too until the switch (`CountedViews`). @default none
   */
  readonly registry?: ViewRegistry;
}

export function toStreamRecord(record: KinesisStreamRecord): StreamRecord {
  return {
    sequenceNumber: record.kinesis.sequenceNumber,
    partitionKey: record.kinesis.partitionKey,
    data: record.kinesis.data,
    // Lambda gives epoch seconds with a fraction.
    approximateArrivalTimestamp: Math.round(record.kinesis.approximateArrivalTimestamp * 1000),
  };
}

/**
 * The user records of a Kinesis record: the record itself when plain (one event, any producer's), its
 * user records with their sub-sequence numbers when packed (KPL aggregated: `kinesis-aggregation.ts`).
 * A packed record that does not decode (wrong checksum, bad message) is invalid whole, with why.
 */
export function userRecordsOf(record: StreamRecord): StreamRecord[] | InvalidRecord {
  if (!mayBeAggregated(record.data)) return [record];
  let unpacked: ReturnType<typeof unpackRecord>;
  try {
    unpacked = unpackRecord(Buffer.from(record.data, 'base64'));
  } catch (error) {
    if (!(error instanceof MalformedAggregatedRecordError)) throw error;
    return { record, reason: error.message, errors: [] };
  }
  if (unpacked === null) return [record];
  return unpacked.map(({ subSequenceNumber, partitionKey, data }) => ({
    ...record,
    subSequenceNumber,
    partitionKey,
    data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
  }));
}

/** `eventID` is `<shardId>:<sequenceNumber>`; a Lambda batch holds records of one shard. */
export const shardIdOf = (record: KinesisStreamRecord): string =>
  record.eventID.slice(0, record.eventID.indexOf(':'));

/** A batch's sketch merges that met another shard's: refused and read again, or refused on every attempt. */
interface MergeContention {
  retries: number;
  givenUp: number;
}

/**
 * The speed layer: decodes a shard's batch (de-aggregating packed records), quarantines invalid user
 * records, pre-aggregates the rest per speed item and applies each item's delta exactly once per user
 * record, whatever the redeliveries.
 */
export class SpeedProcessor {
  private readonly counted: CountedViews;
  private readonly now: () => number;

  constructor(private readonly options: SpeedProcessorOptions) {
    this.now = options.now ?? Date.now;
    this.counted = new CountedViews({ ...options, now: this.now });
  }

  async process(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
    const { logger, metrics } = this.options;
    const first = event.Records[0];
    if (first === undefined) return { batchItemFailures: [] };
    const shardId = shardIdOf(first);
    const records = event.Records.map(toStreamRecord);
    const valid: DecodedEvent[] = [];
    const invalid: InvalidRecord[] = [];
    for (const record of records) {
      const userRecords = userRecordsOf(record);
      if (!Array.isArray(userRecords)) {
        invalid.push(userRecords);
        continue;
      }
      for (const userRecord of userRecords) {
        const decoded = decodeRecord(this.options.catalogs, userRecord);
        if (decoded.ok) valid.push(decoded);
        else invalid.push(decoded);
      }
    }
    const plan = planSpeedWrites(await this.counted.current(), valid);
    invalid.push(...plan.unevaluable);
    // Beside the speed writes; it never throws and ends within its timeout (a statistic).
    const latenessRecorded = this.options.lateness?.record(shardId, valid, plan);

    const failedSequences: string[] = [];
    let conflicts = 0;
    const contention: MergeContention = { retries: 0, givenUp: 0 };
    const limit = pLimit(this.options.writeConcurrency ?? 16);
    await Promise.all([
      ...invalid.map((item) =>
        limit(async () => {
          try {
            await this.options.quarantine.put(shardId, item);
            logger.warn('record quarantined', {
              shardId,
              sequenceNumber: item.record.sequenceNumber,
              subSequenceNumber: item.record.subSequenceNumber,
              reason: item.reason,
            });
          } catch (error) {
            logger.error('quarantine write failed', {
              shardId,
              sequenceNumber: item.record.sequenceNumber,
              subSequenceNumber: item.record.subSequenceNumber,
              error,
            });
            failedSequences.push(item.record.sequenceNumber);
          }
        }),
      ),
      ...[...plan.keys.values()].map((keyPlan) =>
        limit(async () => {
          try {
            if (await this.applyKey(shardId, keyPlan, contention)) conflicts++;
          } catch (error) {
            if (error instanceof MergeContendedError) {
              contention.retries += error.attempts - 1;
              contention.givenUp++;
            }
            logger.error('speed item write failed', { shardId, pk: keyPlan.pk, sk: keyPlan.sk, error });
            failedSequences.push(keyPlan.contributions[0]?.sequenceNumber ?? first.kinesis.sequenceNumber);
          }
        }),
      ),
    ]);
    const latenessDropped = (await latenessRecorded) === false;

    const oldestArrival = Math.min(...records.map((record) => record.approximateArrivalTimestamp));
    metrics.addMetric(SPEED_METRICS.events.name, MetricUnit.Count, valid.length - plan.unevaluable.length);
    metrics.addMetric(SPEED_METRICS.invalid.name, MetricUnit.Count, invalid.length);
    metrics.addMetric(SPEED_METRICS.keysWritten.name, MetricUnit.Count, plan.keys.size);
    metrics.addMetric(SPEED_METRICS.conflicts.name, MetricUnit.Count, conflicts);
    metrics.addMetric(SPEED_METRICS.sketchMergeRetries.name, MetricUnit.Count, contention.retries);
    metrics.addMetric(SPEED_METRICS.sketchMergesGivenUp.name, MetricUnit.Count, contention.givenUp);
    metrics.addMetric(SPEED_METRICS.latenessNotRecorded.name, MetricUnit.Count, latenessDropped ? 1 : 0);
    // Every batch, 0 too: a served version the speed layer cannot count is alarmed while it lasts.
    metrics.addMetric(SPEED_METRICS.unbuildableDefinitions.name, MetricUnit.Count, this.counted.unbuildable);
    metrics.addMetric(SPEED_METRICS.countedViewsStale.name, MetricUnit.Count, this.counted.stale);
    metrics.addMetric(
      SPEED_METRICS.batchAge.name,
      MetricUnit.Milliseconds,
      Math.max(0, this.now() - oldestArrival),
    );
    metrics.publishStoredMetrics();

    if (failedSequences.length === 0) return { batchItemFailures: [] };
    // Lambda retries from the lowest reported Kinesis record, all its user records again; items already
    // written skip it by their checkpoint (see `Contribution`: a record's user records go together).
    const lowest = failedSequences.sort(compareSequenceNumbers)[0] ?? first.kinesis.sequenceNumber;
    return { batchItemFailures: [{ itemIdentifier: lowest }] };
  }

  /** Writes one item's delta; returns true when a redelivery was detected and trimmed. */
  private async applyKey(shardId: string, plan: SpeedKeyPlan, contention: MergeContention): Promise<boolean> {
    const { store } = this.options;
    const conflicted = hasDistinctMeasure(plan.view)
      ? await this.mergeKey(shardId, plan, contention)
      : await applyAboveCheckpoint(
          shardId,
          (after) => {
            const delta = this.deltaFor(shardId, plan, after);
            return delta === null ? null : store.addDelta(delta);
          },
          () => store.checkpoint(plan.pk, plan.sk, shardId),
        );
    // Extremes are idempotent: applied from every contribution (the planned totals), redelivered or not.
    const whole = { bucket: plan.bucket, group: plan.group, values: plan.compiled.valuesOf(plan.totals) };
    for (const { measure, keep, value } of speedItemWrites(plan.view, whole).extremes)
      await store.applyExtreme(plan.pk, plan.sk, measure, keep, value);
    return conflicted;
  }

  /**
   * The item's delta of the records above a checkpoint (all for null), from the first of them to the
   * batch's last; null when none lies above it.
   */
  private deltaFor(shardId: string, plan: SpeedKeyPlan, after: string | null): SpeedDelta | null {
    const first = plan.contributions.find(
      ({ sequenceNumber }) => after === null || padSequence(sequenceNumber) > after,
    );
    const last = plan.contributions.at(-1);
    const row = deltaAfter(plan, after);
    if (row === null || first === undefined || last === undefined) return null;
    return {
      view: plan.view,
      pk: plan.pk,
      sk: plan.sk,
      shardId,
      firstSequence: padSequence(first.sequenceNumber),
      lastSequence: padSequence(last.sequenceNumber),
      row,
      expiresAt: Math.ceil((plan.bucket + this.options.retentionMs) / 1000),
    };
  }

  /**
   * A view with distinct measures: the item's sketches are read, merged with the delta's values and
   * written back with its counters, under the checkpoint read and the sketch version read (another shard
   * may merge into the same item). Reading first, the delta is already what lies above the checkpoint.
   * True when the checkpoint read showed a redelivery.
   */
  private async mergeKey(shardId: string, plan: SpeedKeyPlan, contention: MergeContention): Promise<boolean> {
    const { store } = this.options;
    const { state, retries } = await applyAfterRead(
      `speed item ${plan.pk} ${plan.sk}`,
      () => store.readSketched(plan.view, plan.pk, plan.sk, shardId),
      (read) => {
        const delta = this.deltaFor(shardId, plan, read.checkpoint);
        if (delta === null) return null;
        return store.mergeDelta({
          ...delta,
          readVersion: read.version,
          sketches: mergedSketches(plan.view, read.sketches, delta.row.distinctValues),
        });
      },
    );
    contention.retries += retries;
    const firstOfBatch = plan.contributions[0]?.sequenceNumber;
    return (
      state.checkpoint !== null && firstOfBatch !== undefined && padSequence(firstOfBatch) <= state.checkpoint
    );
  }
}
