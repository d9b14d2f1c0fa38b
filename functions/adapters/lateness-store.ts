import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { latenessHourKey, latenessHoursRange, TABLE_ATTRIBUTES } from '../core/keys';
import {
  emptyViewLateness,
  LATENESS_BINS,
  LATENESS_RETENTION_DAYS,
  latenessBinUpperEdge,
  mergeViewLateness,
  type ViewLateness,
} from '../core/lateness';
import { checkpointAttribute } from './dynamo-speed-store';
import type { Table } from './table';

/** What one invocation adds to one arrival hour: per view, its lateness counts, under the shard's checkpoint. */
export interface HourLatenessDelta {
  /** Any time in the arrival hour. */
  readonly arrivalHour: number;
  readonly shardId: string;
  /** Padded sequence numbers of the first and last Kinesis record the counts cover. */
  readonly firstSequence: string;
  readonly lastSequence: string;
  readonly views: ReadonlyMap<string, ViewLateness>;
}

/** The speed layer's lateness counts per arrival hour; DynamoDB in AWS and locally. */
export interface LatenessStore {
  /**
   * ADDs the counts and moves the shard's checkpoint on the hour's item to `lastSequence`, only if it is
   * below `firstSequence` (as speed items do): `conflict` means some of these records were counted before.
   */
  add(delta: HourLatenessDelta): Promise<'applied' | 'conflict'>;
  /** The shard's checkpoint on an hour's item (strongly consistent), or null. */
  checkpoint(arrivalHour: number, shardId: string): Promise<string | null>;
  /** Every view's lateness over the arrival hours starting in [from, to), merged. */
  read(from: number, to: number): Promise<Map<string, ViewLateness>>;
}

const HOUR_MS = 3_600_000;

/**
 * A bin's attribute names its upper edge (`inf` for the open last bin), not its index, so a stored count
 * keeps its meaning if the bins change; counts under edges the bins no longer have are not read.
 */
const binLabel = (bin: number): string => {
  const edge = latenessBinUpperEdge(bin);
  return edge === Number.POSITIVE_INFINITY ? 'inf' : String(edge);
};
const BIN_OF_LABEL = new Map(Array.from({ length: LATENESS_BINS }, (_, bin) => [binLabel(bin), bin]));

// The view's name comes last: a name may hold any character, `:` included.
const countAttribute = (view: string, bin: number): string => `lat:${binLabel(bin)}:${view}`;
const lateAfterExactAttribute = (view: string): string => `late:${view}`;
const COUNT = /^lat:([^:]+):(.+)$/;
const LATE_AFTER_EXACT = /^late:(.+)$/;

/** The hourly lateness items in the one table. */
export class DynamoLatenessStore implements LatenessStore {
  constructor(private readonly table: Table) {}

  async add(delta: HourLatenessDelta): Promise<'applied' | 'conflict'> {
    const names: Record<string, string> = {
      '#ck': checkpointAttribute(delta.shardId),
      '#exp': TABLE_ATTRIBUTES.expiresAt,
    };
    const hour = delta.arrivalHour - (delta.arrivalHour % HOUR_MS);
    const values: Record<string, AttributeValue> = {
      ':first': { S: delta.firstSequence },
      ':last': { S: delta.lastSequence },
      ':exp': { N: String(Math.ceil((hour + HOUR_MS) / 1000) + LATENESS_RETENTION_DAYS * 86_400) },
    };
    const adds: string[] = [];
    const add = (attribute: string, count: number) => {
      if (count === 0) return;
      const index = adds.length;
      names[`#a${index}`] = attribute;
      values[`:a${index}`] = { N: String(count) };
      adds.push(`#a${index} :a${index}`);
    };
    for (const [view, lateness] of delta.views) {
      for (const [bin, count] of lateness.histogram.entries()) add(countAttribute(view, bin), count);
      add(lateAfterExactAttribute(view), lateness.lateAfterExact);
    }
    const updated = await this.table.updateIf(
      latenessHourKey(delta.arrivalHour),
      `SET #ck = :last, #exp = :exp${adds.length > 0 ? ` ADD ${adds.join(', ')}` : ''}`,
      { condition: 'attribute_not_exists(#ck) OR #ck < :first', names, values },
    );
    return updated === null ? 'conflict' : 'applied';
  }

  async checkpoint(arrivalHour: number, shardId: string): Promise<string | null> {
    const item = await this.table.get(latenessHourKey(arrivalHour), true);
    return item?.[checkpointAttribute(shardId)]?.S ?? null;
  }

  async read(from: number, to: number): Promise<Map<string, ViewLateness>> {
    const byView = new Map<string, ViewLateness>();
    const { pk, ...range } = latenessHoursRange(from, to);
    for await (const item of this.table.query(pk, { range })) {
      const hour = new Map<string, { histogram: number[]; lateAfterExact: number }>();
      const of = (view: string) => {
        let lateness = hour.get(view);
        if (lateness === undefined) {
          const empty = emptyViewLateness();
          lateness = { histogram: [...empty.histogram], lateAfterExact: 0 };
          hour.set(view, lateness);
        }
        return lateness;
      };
      for (const [attribute, value] of Object.entries(item)) {
        const count = Number(value.N ?? 0);
        const binned = COUNT.exec(attribute);
        const bin = binned === null ? undefined : BIN_OF_LABEL.get(binned[1] as string);
        if (binned !== null && bin !== undefined) {
          const histogram = of(binned[2] as string).histogram;
          histogram[bin] = (histogram[bin] ?? 0) + count;
          continue;
        }
        const late = LATE_AFTER_EXACT.exec(attribute);
        if (late !== null) of(late[1] as string).lateAfterExact += count;
      }
      for (const [view, lateness] of hour)
        byView.set(view, mergeViewLateness(byView.get(view) ?? emptyViewLateness(), lateness));
    }
    return byView;
  }
}

/** Each view's lateness over the `windowDays` of arrivals up to `now` (the current hour included). */
export const latenessOverWindow = (
  store: LatenessStore,
  windowDays: number,
  now: number,
): Promise<Map<string, ViewLateness>> => store.read(now - windowDays * 86_400_000, now + 1);
