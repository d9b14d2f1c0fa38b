import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoBatchStore } from '../adapters/dynamo-batch-store';
import type { LatenessStore } from '../adapters/lateness-store';
import { bucketStart, compareSequenceNumbers, padSequence, type StreamRecord } from '../core';
import { emptyLatenessHistogram, latenessBin } from '../core/lateness';
import type { SpeedPlan } from '../core/speed';
import { servedWatermark } from '../core/watermark';

/** A view's served watermark by name (its manifest's), 0 before any run. */
export type WatermarkOf = (viewName: string) => Promise<number>;

/** How long a view's watermark is reused: it moves once per batch run, and a stale one only skews a statistic. */
export const WATERMARK_CACHE_MS = 45_000;

/** Watermarks read through `read`, each kept `WATERMARK_CACHE_MS`: an invocation reads no manifest most times. */
export function cachedWatermarks(read: WatermarkOf, now: () => number): WatermarkOf {
  const cached = new Map<string, { at: number; watermark: Promise<number> }>();
  return (viewName) => {
    const hit = cached.get(viewName);
    if (hit !== undefined && now() - hit.at < WATERMARK_CACHE_MS) return hit.watermark;
    const watermark = read(viewName);
    cached.set(viewName, { at: now(), watermark });
    // A failed read is not kept: the next invocation asks again.
    watermark.catch(() => cached.delete(viewName));
    return watermark;
  };
}

const HOUR_MS = 3_600_000;

/** One arrival hour's counts: per view, its lateness, and the first and last record they cover. */
interface HourCounts {
  readonly views: Map<string, { histogram: number[]; lateAfterExact: number }>;
  first: string;
  last: string;
}

/**
 * Records, per arrival hour and view, how late the events a view counts arrived (Kinesis's arrival time
 * minus the event time) and how many landed in a bucket already below the view's watermark. Exactly once
 * per record, as speed items are: each hour's item keeps the shard's checkpoint. A statistic: a failed
 * write is logged and dropped, never a reason to retry the batch.
 */
export class LatenessRecorder {
  constructor(
    private readonly options: {
      readonly store: LatenessStore;
      readonly watermarkOf: WatermarkOf;
      readonly logger: Logger;
    },
  ) {}

  async record(shardId: string, records: readonly StreamRecord[], plan: SpeedPlan): Promise<void> {
    try {
      const counting = await this.counting(records, plan);
      await Promise.all(
        [...counting(null)].map(([hour, counts]) => this.addHour(shardId, hour, counts, counting)),
      );
    } catch (error) {
      this.options.logger.warn('lateness not recorded', { shardId, error });
    }
  }

  /** Counts the batch's contributions per arrival hour, those after a padded sequence number only if given. */
  private async counting(records: readonly StreamRecord[], plan: SpeedPlan) {
    const arrivals = new Map(
      records.map((record) => [record.sequenceNumber, record.approximateArrivalTimestamp]),
    );
    // A view counted under two versions at once (a definition change) is recorded once, under the newest.
    const newest = new Map<string, number>();
    for (const { view } of plan.keys.values())
      newest.set(view.name, Math.max(newest.get(view.name) ?? 0, view.version));
    const watermarks = new Map<string, number>();
    await Promise.all(
      [...newest.keys()].map(async (name) => watermarks.set(name, await this.options.watermarkOf(name))),
    );
    return (after: string | null): Map<number, HourCounts> => {
      const hours = new Map<number, HourCounts>();
      for (const key of plan.keys.values()) {
        const { name, version, time } = key.view;
        if (version !== newest.get(name)) continue;
        const lateAfterExact = key.bucket < (watermarks.get(name) ?? 0);
        // A batch's records mostly share one arrival hour: its counts are looked up once per key.
        let hour = Number.NaN;
        let counts: HourCounts | undefined;
        let lateness: { histogram: number[]; lateAfterExact: number } | undefined;
        for (const { sequenceNumber, event } of key.contributions) {
          const arrival = arrivals.get(sequenceNumber);
          const eventTime = event[time.field];
          if (arrival === undefined || typeof eventTime !== 'number') continue;
          // Padding 130 digits per event costs: only a redelivery's second pass compares positions.
          if (after !== null && padSequence(sequenceNumber) <= after) continue;
          if (counts === undefined || lateness === undefined || arrival - hour >= HOUR_MS || arrival < hour) {
            hour = bucketStart(arrival, 'hour');
            counts = hours.get(hour) ?? { views: new Map(), first: sequenceNumber, last: sequenceNumber };
            hours.set(hour, counts);
            lateness = counts.views.get(name) ?? { histogram: emptyLatenessHistogram(), lateAfterExact: 0 };
            counts.views.set(name, lateness);
          }
          if (compareSequenceNumbers(sequenceNumber, counts.first) < 0) counts.first = sequenceNumber;
          if (compareSequenceNumbers(sequenceNumber, counts.last) > 0) counts.last = sequenceNumber;
          const bin = latenessBin(arrival - eventTime);
          lateness.histogram[bin] = (lateness.histogram[bin] ?? 0) + 1;
          if (lateAfterExact) lateness.lateAfterExact++;
        }
      }
      return hours;
    };
  }

  /** The hour's counts, then, after a conflict (a redelivery), only those of records above the checkpoint. */
  private async addHour(
    shardId: string,
    hour: number,
    all: HourCounts,
    counting: (after: string | null) => Map<number, HourCounts>,
  ) {
    const { store } = this.options;
    let counts: HourCounts | undefined = all;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (counts === undefined) return;
      const outcome = await store.add({
        arrivalHour: hour,
        shardId,
        firstSequence: padSequence(counts.first),
        lastSequence: padSequence(counts.last),
        views: counts.views,
      });
      if (outcome === 'applied') return;
      const after = await store.checkpoint(hour, shardId);
      counts = after === null ? undefined : counting(after).get(hour);
    }
    throw new Error(`lateness checkpoint of ${shardId} moved during the batch: is the shard read twice?`);
  }
}

/** The recorder over the batch store's lateness items, reading the views' watermarks from their manifests. */
export function latenessRecorderOver(store: DynamoBatchStore, logger: Logger, now: () => number) {
  return new LatenessRecorder({
    store: store.lateness,
    watermarkOf: cachedWatermarks(async (name) => servedWatermark(await store.getManifest(name)), now),
    logger,
  });
}
