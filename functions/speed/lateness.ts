import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoBatchStore } from '../adapters/dynamo-batch-store';
import type { LatenessStore } from '../adapters/lateness-store';
import { bucketStart, padSequence, type StreamRecord } from '../core';
import { emptyLatenessHistogram, latenessBin, type ViewLateness } from '../core/lateness';
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

/** One (event, view) the view counts: where its lateness goes. */
interface Counted {
  readonly position: string;
  readonly view: string;
  readonly bin: number;
  readonly lateAfterExact: boolean;
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
      await this.recordOrThrow(shardId, records, plan);
    } catch (error) {
      this.options.logger.warn('lateness not recorded', { shardId, error });
    }
  }

  private async recordOrThrow(shardId: string, records: readonly StreamRecord[], plan: SpeedPlan) {
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
    const byHour = new Map<number, Counted[]>();
    for (const key of plan.keys.values()) {
      if (key.view.version !== newest.get(key.view.name)) continue;
      const lateAfterExact = key.bucket < (watermarks.get(key.view.name) ?? 0);
      for (const { sequenceNumber, event } of key.contributions) {
        const arrival = arrivals.get(sequenceNumber);
        const eventTime = event[key.view.time.field];
        if (arrival === undefined || typeof eventTime !== 'number') continue;
        const hour = bucketStart(arrival, 'hour');
        const counted = byHour.get(hour) ?? [];
        byHour.set(hour, counted);
        counted.push({
          position: padSequence(sequenceNumber),
          view: key.view.name,
          bin: latenessBin(arrival - eventTime),
          lateAfterExact,
        });
      }
    }
    await Promise.all([...byHour].map(([hour, counted]) => this.addHour(shardId, hour, counted)));
  }

  /** The hour's counts, then, after a conflict (a redelivery), only those of records above the checkpoint. */
  private async addHour(shardId: string, hour: number, counted: readonly Counted[]) {
    const { store } = this.options;
    let after: string | null = null;
    for (let attempt = 0; attempt < 2; attempt++) {
      const remaining = counted.filter(({ position }) => after === null || position > after);
      if (remaining.length === 0) return;
      const positions = remaining.map(({ position }) => position).sort();
      const outcome = await store.add({
        arrivalHour: hour,
        shardId,
        firstSequence: positions[0] as string,
        lastSequence: positions.at(-1) as string,
        views: countsOf(remaining),
      });
      if (outcome === 'applied') return;
      after = await store.checkpoint(hour, shardId);
    }
    throw new Error(`lateness checkpoint of ${shardId} moved during the batch: is the shard read twice?`);
  }
}

function countsOf(counted: readonly Counted[]): Map<string, ViewLateness> {
  const views = new Map<string, { histogram: number[]; lateAfterExact: number }>();
  for (const { view, bin, lateAfterExact } of counted) {
    const lateness = views.get(view) ?? { histogram: emptyLatenessHistogram(), lateAfterExact: 0 };
    views.set(view, lateness);
    lateness.histogram[bin] = (lateness.histogram[bin] ?? 0) + 1;
    if (lateAfterExact) lateness.lateAfterExact++;
  }
  return views;
}

/** The recorder over the batch store's lateness items, reading the views' watermarks from their manifests. */
export function latenessRecorderOver(store: DynamoBatchStore, logger: Logger, now: () => number) {
  return new LatenessRecorder({
    store: store.lateness,
    watermarkOf: cachedWatermarks(async (name) => servedWatermark(await store.getManifest(name)), now),
    logger,
  });
}
