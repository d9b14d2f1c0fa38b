import type { Logger } from '@aws-lambda-powertools/logger';
import { applyAboveCheckpoint } from '../adapters/checkpointed-write';
import type { DynamoBatchStore } from '../adapters/dynamo-batch-store';
import type { LatenessStore } from '../adapters/lateness-store';
import { bucketStart, padSequence, type StreamRecord } from '../core';
import {
  arrivedAfterExact,
  type Exactness,
  emptyViewLateness,
  latenessBin,
  type ViewLateness,
} from '../core/lateness';
import type { SpeedKeyPlan, SpeedPlan } from '../core/speed';
import { servedWatermark } from '../core/watermark';

/** What a view's manifest says of exactness (`Exactness`), by view name. */
export type ExactnessOf = (viewName: string) => Promise<Exactness>;

/** How long a view's exactness is reused: it moves once per batch run, and a stale one only skews a statistic. */
export const EXACTNESS_CACHE_MS = 45_000;

/** How long a batch waits for its lateness counts, from when they start: a statistic never holds the stream. */
export const LATENESS_TIMEOUT_MS = 2_000;

/** Answers of `read` by view name, each kept `EXACTNESS_CACHE_MS`: an invocation reads no manifest most times. */
export function cachedExactness(read: ExactnessOf, now: () => number): ExactnessOf {
  const cached = new Map<string, { at: number; exactness: Promise<Exactness> }>();
  return (viewName) => {
    const hit = cached.get(viewName);
    if (hit !== undefined && now() - hit.at < EXACTNESS_CACHE_MS) return hit.exactness;
    const exactness = read(viewName);
    const entry = { at: now(), exactness };
    cached.set(viewName, entry);
    // A failed read is not kept: the next invocation asks again.
    exactness.catch(() => {
      if (cached.get(viewName) === entry) cached.delete(viewName);
    });
    return exactness;
  };
}

/** A bin no event has: its event time is not a number. */
const NO_BIN = 255;

/**
 * The batch's user records by position (in sequence order), each arrival hour's first and last position,
 * and each record's lateness bin per event-time field, computed once whatever the views counting it.
 */
class Arrivals {
  readonly sequence: string[] = [];
  readonly arrival: number[] = [];
  readonly hourOf: number[] = [];
  readonly hours: { readonly start: number; readonly first: number; last: number }[] = [];
  private readonly bins = new Map<string, Uint8Array>();

  constructor(private readonly events: readonly { record: StreamRecord; event: object }[]) {
    let hour = -1;
    for (let position = 0; position < events.length; position++) {
      const { record } = events[position] as (typeof events)[number];
      const arrival = record.approximateArrivalTimestamp;
      this.sequence.push(record.sequenceNumber);
      this.arrival.push(arrival);
      const start = bucketStart(arrival, 'hour');
      // Records come in sequence order, so mostly in arrival order: an hour's are mostly one run.
      if (hour === -1 || this.hours[hour]?.start !== start) {
        hour = this.hours.findIndex((known) => known.start === start);
        if (hour === -1) hour = this.hours.push({ start, first: position, last: position }) - 1;
      }
      (this.hours[hour] as { last: number }).last = position;
      this.hourOf.push(hour);
    }
  }

  binsOf(field: string): Uint8Array {
    let bins = this.bins.get(field);
    if (bins === undefined) {
      bins = new Uint8Array(this.events.length);
      for (let position = 0; position < this.events.length; position++) {
        const { event } = this.events[position] as (typeof this.events)[number];
        const eventTime = (event as Record<string, unknown>)[field];
        bins[position] =
          typeof eventTime === 'number'
            ? latenessBin((this.arrival[position] as number) - eventTime)
            : NO_BIN;
      }
      this.bins.set(field, bins);
    }
    return bins;
  }

  /** The first and last padded sequence numbers of an hour's records above `after` (all for null). */
  range(hour: number, after: string | null): { first: string; last: string } | null {
    const { first, last } = this.hours[hour] as { first: number; last: number };
    for (let position = first; position <= last; position++) {
      if (this.hourOf[position] !== hour) continue;
      const sequence = padSequence(this.sequence[position] as string);
      if (after === null || sequence > after)
        return { first: sequence, last: padSequence(this.sequence[last] as string) };
    }
    return null;
  }
}

/**
 * Records, per view, arrival hour and shard, how late the events a view counts arrived (Kinesis's arrival
 * time minus the event time) and which of them arrived after their bucket was exact (`arrivedAfterExact`).
 * Exactly once per record, as speed items are: each item keeps the shard's checkpoint. A statistic: a
 * failed read or write is logged and dropped, never a reason to retry the batch, and the batch waits for
 * it `timeoutMs` at most.
 */
export class LatenessRecorder {
  constructor(
    private readonly options: {
      readonly store: LatenessStore;
      readonly exactnessOf: ExactnessOf;
      readonly logger: Logger;
      /** @default LATENESS_TIMEOUT_MS */
      readonly timeoutMs?: number;
    },
  ) {}

  /**
   * Records the batch's valid user records (in sequence order) as the plan counts them. Never throws:
   * false when the counts were dropped, or not written within the timeout (they may be still).
   */
  async record(
    shardId: string,
    events: readonly { record: StreamRecord; event: object }[],
    plan: SpeedPlan,
  ): Promise<boolean> {
    const { logger, timeoutMs = LATENESS_TIMEOUT_MS } = this.options;
    const written = this.write(shardId, events, plan).then(
      () => true,
      (error: unknown) => {
        logger.warn('lateness not recorded', { shardId, error });
        return false;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        logger.warn('lateness not recorded in time', { shardId, timeoutMs });
        resolve(false);
      }, timeoutMs);
    });
    try {
      return await Promise.race([written, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async write(
    shardId: string,
    events: readonly { record: StreamRecord; event: object }[],
    plan: SpeedPlan,
  ) {
    const { store, exactnessOf } = this.options;
    const arrivals = new Arrivals(events);
    // A view counted under two versions at once (a definition change) is recorded once, under the newest.
    const newest = new Map<string, number>();
    for (const { view } of plan.keys.values())
      newest.set(view.name, Math.max(newest.get(view.name) ?? 0, view.version));
    const keysOf = new Map<string, SpeedKeyPlan[]>();
    for (const key of plan.keys.values()) {
      if (key.view.version !== newest.get(key.view.name)) continue;
      const keys = keysOf.get(key.view.name) ?? [];
      keys.push(key);
      keysOf.set(key.view.name, keys);
    }
    await Promise.all(
      [...keysOf].map(async ([view, keys]) => {
        const exactness = await exactnessOf(view);
        const all = countHours(arrivals, keys, exactness, null);
        await Promise.all(
          [...all].map(([hour, lateness]) => {
            const arrivalHour = (arrivals.hours[hour] as { start: number }).start;
            return applyAboveCheckpoint(
              shardId,
              (after) => {
                // After a conflict (a redelivery), only the records above the checkpoint.
                const counts =
                  after === null ? lateness : countHours(arrivals, keys, exactness, after).get(hour);
                const range = arrivals.range(hour, after);
                if (counts === undefined || range === null) return null;
                return store.add({
                  view,
                  arrivalHour,
                  shardId,
                  firstSequence: range.first,
                  lastSequence: range.last,
                  lateness: counts,
                });
              },
              () => store.checkpoint(view, arrivalHour, shardId),
            );
          }),
        );
      }),
    );
  }
}

/** One view's lateness per arrival hour (by index in `arrivals.hours`), of the records above `after` if given. */
function countHours(
  arrivals: Arrivals,
  keys: readonly SpeedKeyPlan[],
  exactness: Exactness,
  after: string | null,
): Map<number, ViewLateness> {
  const hours = new Map<number, ViewLateness>();
  let hour = -1;
  let counts: ViewLateness | undefined;
  for (const key of keys) {
    const bins = arrivals.binsOf(key.view.time.field);
    const mayBeExact = key.bucket < exactness.watermark;
    for (const { position } of key.contributions) {
      const bin = bins[position] as number;
      if (bin === NO_BIN) continue;
      // Padding 130 digits per event costs: only a redelivery's second pass compares positions.
      if (after !== null && padSequence(arrivals.sequence[position] as string) <= after) continue;
      if (arrivals.hourOf[position] !== hour || counts === undefined) {
        hour = arrivals.hourOf[position] as number;
        counts = hours.get(hour) ?? emptyViewLateness();
        hours.set(hour, counts);
      }
      (counts.histogram as number[])[bin] = (counts.histogram[bin] ?? 0) + 1;
      if (mayBeExact && arrivedAfterExact(key.bucket, arrivals.arrival[position] as number, exactness))
        (counts.lateAfterExact as number[])[bin] = (counts.lateAfterExact[bin] ?? 0) + 1;
    }
  }
  return hours;
}

/** The recorder over the batch store's lateness items, reading the views' exactness from their manifests. */
export function latenessRecorderOver(store: DynamoBatchStore, logger: Logger, now: () => number) {
  return new LatenessRecorder({
    store: store.lateness,
    exactnessOf: cachedExactness(async (name) => {
      // Two attributes, not the gzipped manifest with its day map: every view, every instance, every 45 s.
      const exactness = await store.manifestExactness(name);
      return { watermark: servedWatermark(exactness), lastRunStartedAt: exactness?.lastRunStartedAt ?? null };
    }, now),
    logger,
  });
}
