import { latenessHoursRange, latenessItemKey, TABLE_ATTRIBUTES } from '../core/keys';
import {
  emptyLatenessHistogram,
  LATENESS_BINS,
  LATENESS_RETENTION_DAYS,
  latenessBinUpperEdge,
  type ViewLateness,
} from '../core/lateness';
import { type CheckpointedWrite, readCheckpoint, writeUnderCheckpoint } from './checkpointed-write';
import type { Table } from './table';

/** What one invocation adds to one view's counts of one arrival hour, under the shard's checkpoint. */
export interface LatenessDelta {
  readonly view: string;
  /** Any time in the arrival hour. */
  readonly arrivalHour: number;
  readonly shardId: string;
  /** Padded sequence numbers of the first and last Kinesis record the counts cover. */
  readonly firstSequence: string;
  readonly lastSequence: string;
  readonly lateness: ViewLateness;
}

/** The speed layer's lateness counts per view, arrival hour and shard; DynamoDB in AWS and locally. */
export interface LatenessStore {
  /**
   * ADDs the counts and moves the shard's checkpoint on the item to `lastSequence`, only if it is below
   * `firstSequence` (as speed items do): `conflict` means some of these records were counted before.
   */
  add(delta: LatenessDelta): Promise<'applied' | 'conflict'>;
  /** The shard's checkpoint on a view's hour (strongly consistent), or null. */
  checkpoint(view: string, arrivalHour: number, shardId: string): Promise<string | null>;
  /** A view's lateness over the arrival hours starting in [from, to), every shard's, merged. */
  read(view: string, from: number, to: number): Promise<ViewLateness>;
}

const HOUR_MS = 3_600_000;

/**
 * A bin's attribute names its upper edge (`inf` for the open last bin), not its index, so a stored count
 * keeps its meaning if the bins change; counts under edges the bins no longer have are not read, those
 * of all events and of the late-after-exact ones alike.
 */
const binLabel = (bin: number): string => {
  const edge = latenessBinUpperEdge(bin);
  return edge === Number.POSITIVE_INFINITY ? 'inf' : String(edge);
};
const BIN_LABELS = Array.from({ length: LATENESS_BINS }, (_, bin) => binLabel(bin));
const BIN_OF_LABEL = new Map(BIN_LABELS.map((label, bin) => [label, bin]));
const COUNT = 'lat:';
const LATE_AFTER_EXACT = 'late:';

/** The write of a delta: its non-zero counts, under the shard's checkpoint. */
export function latenessWrite(delta: LatenessDelta): CheckpointedWrite {
  const hour = delta.arrivalHour - (delta.arrivalHour % HOUR_MS);
  const add: [string, string][] = [];
  for (const [prefix, histogram] of [
    [COUNT, delta.lateness.histogram],
    [LATE_AFTER_EXACT, delta.lateness.lateAfterExact],
  ] as const)
    for (let bin = 0; bin < LATENESS_BINS; bin++) {
      const count = histogram[bin] ?? 0;
      if (count !== 0) add.push([`${prefix}${BIN_LABELS[bin]}`, String(count)]);
    }
  return {
    shardId: delta.shardId,
    firstSequence: delta.firstSequence,
    lastSequence: delta.lastSequence,
    set: {
      [TABLE_ATTRIBUTES.expiresAt]: {
        N: String(Math.ceil((hour + HOUR_MS) / 1000) + LATENESS_RETENTION_DAYS * 86_400),
      },
    },
    add,
  };
}

/** The lateness items in the one table. */
export class DynamoLatenessStore implements LatenessStore {
  constructor(private readonly table: Table) {}

  add(delta: LatenessDelta): Promise<'applied' | 'conflict'> {
    return writeUnderCheckpoint(
      this.table,
      latenessItemKey(delta.view, delta.arrivalHour, delta.shardId),
      latenessWrite(delta),
    );
  }

  checkpoint(view: string, arrivalHour: number, shardId: string): Promise<string | null> {
    return readCheckpoint(this.table, latenessItemKey(view, arrivalHour, shardId), shardId);
  }

  async read(view: string, from: number, to: number): Promise<ViewLateness> {
    const histogram = emptyLatenessHistogram();
    const lateAfterExact = emptyLatenessHistogram();
    const { pk, ...range } = latenessHoursRange(view, from, to);
    for await (const item of this.table.query(pk, { range })) {
      for (const [attribute, value] of Object.entries(item)) {
        const counts = attribute.startsWith(COUNT)
          ? { histogram, label: attribute.slice(COUNT.length) }
          : attribute.startsWith(LATE_AFTER_EXACT)
            ? { histogram: lateAfterExact, label: attribute.slice(LATE_AFTER_EXACT.length) }
            : null;
        const bin = counts === null ? undefined : BIN_OF_LABEL.get(counts.label);
        if (counts === null || bin === undefined) continue;
        counts.histogram[bin] = (counts.histogram[bin] ?? 0) + Number(value.N ?? 0);
      }
    }
    return { histogram, lateAfterExact };
  }
}

/** The arrivals a view's lateness is observed over: the `windowDays` up to `now`, the current hour included. */
export const latenessWindow = (windowDays: number, now: number): { from: number; to: number } => ({
  from: now - windowDays * 86_400_000,
  to: now + 1,
});

/** A view's lateness over its window (`latenessWindow`): what a batch run's settle time is drawn from. */
export const latenessOverWindow = (
  store: LatenessStore,
  view: string,
  windowDays: number,
  now: number,
): Promise<ViewLateness> => {
  const { from, to } = latenessWindow(windowDays, now);
  return store.read(view, from, to);
};
