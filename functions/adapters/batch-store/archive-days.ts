import type { DayRange } from '../../core/days';
import {
  archiveChangeKey,
  archiveChangesSince,
  archiveDayKey,
  archiveDaysRange,
  type SortKeyRange,
  type TableKey,
} from '../../core/keys';
import { Table } from '../table';

/** Archive objects and their bytes, as the archive marker counted them. */
export interface ArchiveRead {
  readonly objects: number;
  readonly bytes: number;
}

/**
 * What the archive marker records the archive received (`functions/batch/marker.ts`), per catalog: per
 * event-time day and per (hour of marking, day). Each item keeps the latest marking time and the latest
 * object time. A view's days are its catalog's.
 */
export class ArchiveDays {
  constructor(private readonly table: Table) {}

  /**
   * Records that the archive received an object of `catalog`'s `day` (its time `objectAt`), seen at
   * `markedAt`: on the day's item and on the item of the day and the hour of `markedAt`. Each keeps the
   * latest of both times, whatever order concurrent markings land in.
   */
  async mark(
    catalog: string,
    day: string,
    objectAt: number,
    markedAt: number,
    bytes?: number,
  ): Promise<void> {
    await Promise.all([
      this.keepLatest(archiveDayKey(catalog, day), day, objectAt, markedAt),
      this.keepLatest(archiveChangeKey(catalog, markedAt, day), day, objectAt, markedAt),
    ]);
    // Last, so that a marking retried after a failed write above adds its object once (see `received`).
    if (bytes !== undefined)
      await this.table.update(archiveDayKey(catalog, day), 'ADD objects :one, #bytes :bytes', {
        names: { '#bytes': 'bytes' },
        values: { ':one': { N: '1' }, ':bytes': { N: String(bytes) } },
      });
  }

  /**
   * The objects and bytes the archive received of `catalog` on the days of the ranges, as marked so far:
   * what a query over those days of its table reads. Counted from the markings, not a listing: an "Object Created" event delivered
   * twice counts its object twice, and objects marked before the counts were kept are not counted.
   */
  async received(catalog: string, ranges: readonly DayRange[]): Promise<ArchiveRead> {
    const read = { objects: 0, bytes: 0 };
    for (const [first, last] of ranges) {
      // The days' own items: their sort keys are the days.
      for await (const item of this.table.query(archiveDayKey(catalog, first).pk, {
        range: { from: first, to: last },
      })) {
        read.objects += Number(item.objects?.N ?? 0);
        read.bytes += Number(item.bytes?.N ?? 0);
      }
    }
    return read;
  }

  /**
   * The days with archive objects of `catalog` in (`after`, `through`] (`after` `''`: from the first), in
   * order, at most `limit`.
   */
  async list(
    catalog: string,
    after: string,
    through: string,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<string[]> {
    const range = archiveDaysRange(catalog, after, through);
    if (range === null || limit <= 0) return [];
    const days: string[] = [];
    for await (const item of this.table.query(range.pk, {
      ...consistentRange(range),
      ...(Number.isFinite(limit) ? { pageSize: limit } : {}),
    })) {
      days.push(Table.sortKeyOf(item));
      if (days.length >= limit) break;
    }
    return days;
  }

  /** How many days up to `through` have archive objects of `catalog`. */
  async count(catalog: string, through: string): Promise<number> {
    const range = archiveDaysRange(catalog, '', through);
    return range === null ? 0 : this.table.count(range.pk, consistentRange(range));
  }

  /**
   * The days up to `through` whose archive of `catalog` received objects marked at or after `since`, in order: one
   * range of the changes' sort keys, from the hour of `since` on, so the read grows with what changed
   * since then, not with history.
   */
  async changedSince(catalog: string, since: number, through: string): Promise<string[]> {
    const days = new Set<string>();
    const range = archiveChangesSince(catalog, since);
    for await (const item of this.table.query(range.pk, consistentRange(range))) {
      const day = item.day?.S;
      if (day !== undefined && day <= through && Number(item.markedAt?.N) >= since) days.add(day);
    }
    return [...days].sort();
  }

  private async keepLatest(key: TableKey, day: string, objectAt: number, markedAt: number): Promise<void> {
    const values = {
      ':day': { S: day },
      ':markedAt': { N: String(markedAt) },
      ':objectAt': { N: String(objectAt) },
    };
    const update = (set: string, condition: string) => {
      const expression = `SET #day = :day, ${set}`;
      // DynamoDB refuses values the expressions do not use.
      const used = Object.entries(values).filter(([name]) => `${expression} ${condition}`.includes(name));
      return this.table.updateIf(key, expression, {
        condition,
        names: { '#day': 'day' },
        values: Object.fromEntries(used),
      });
    };
    // Markings mostly arrive in order: one write. Otherwise each time is raised on its own, never lowered.
    const both = await update(
      'markedAt = :markedAt, lastObjectAt = :objectAt',
      'attribute_not_exists(markedAt) OR (markedAt < :markedAt AND lastObjectAt <= :objectAt)',
    );
    if (both !== null) return;
    await update('markedAt = :markedAt', 'markedAt < :markedAt');
    await update('lastObjectAt = :objectAt', 'lastObjectAt < :objectAt');
  }
}

/** A plan must see every marking made before it started. */
const consistentRange = ({ from, to }: SortKeyRange) => ({ range: { from, to }, consistent: true });
