import type { DynamoBatchStore } from '../adapters/dynamo-batch-store';
import { compileSql, daysAffectedBy, daysInRanges, type ViewDefinition } from '../core';
import { dayRangesOf } from './days';
import type { ViewPlan } from './plan';

/**
 * At most this many days per Load (and per Athena query): a month of `orders_per_minute` is about
 * 130,000 rows, well within one invocation, however long the history.
 */
export const DAYS_PER_LOAD = 31;

/**
 * At most this many loads per view and run for a backfill (about two years of days): the run ends
 * within the state machine's timeout and its history quota, and the next run goes on from there.
 */
export const BACKFILL_LOADS_PER_RUN = 24;

/**
 * Which days a run recomputes for a view, the same for every load of the run: every day with archive
 * objects after `allAfter` up to `lastDay`, and every day up to `lastDay` whose archive received
 * objects since `changedSince`. A run with dirty days: `allAfter` the previous watermark's day (days
 * the watermark newly covers) and `changedSince` when the last committed run started. A fresh
 * backfill: every day (`allAfter` `''`, `changedSince` null). A resumed one: the days after those it
 * loaded, and the loaded days changed since it began.
 */
export interface DayScope {
  /** The view's catalog: its archive days are the ones read (`events/<catalog>/`). */
  readonly catalog: string;
  /** The new watermark's day (`''`: a watermark of 0, no day). */
  readonly lastDay: string;
  readonly allAfter: string;
  readonly changedSince: number | null;
  /**
   * The catalog's dedupe horizon: a changed day's copies decide whether copies on the days after it
   * count, so those days are recomputed too (`daysAffectedBy`).
   */
  readonly horizonDays: number;
}

/**
 * The scope's days after `cursor` (`''`: from the first), in order, at most `limit`: from the archive
 * markers, never from a listing of the archive. A run reads them in order, `limit` at a time.
 */
export async function scopeDays(
  store: DynamoBatchStore,
  scope: DayScope,
  cursor: string,
  limit: number,
): Promise<string[]> {
  if (scope.lastDay === '' || limit <= 0) return [];
  const all = await store.archiveDays(
    scope.catalog,
    cursor > scope.allAfter ? cursor : scope.allAfter,
    scope.lastDay,
    limit,
  );
  const changed =
    scope.changedSince === null
      ? []
      : daysAffectedBy(
          await store.archiveDaysChangedSince(scope.catalog, scope.changedSince, scope.lastDay),
          scope.horizonDays,
        ).filter((day) => day > cursor && day <= scope.lastDay);
  // The first `limit` of the union: `all` holds the first `limit` of its own, so none is missing.
  return [...new Set([...all, ...changed])].sort().slice(0, limit);
}

/** What stays the same from one load of a view's run to the next. */
export type ViewRunPlan = Omit<ViewPlan, 'dayRanges' | 'dayCount' | 'sql' | 'chunk' | 'loaded'>;

/** The plan of one load: its days (as ranges, so the payload stays small), its SQL, and the totals so far. */
export function chunkPlan(
  view: ViewDefinition,
  run: ViewRunPlan,
  days: readonly string[],
  chunk: number,
  loaded: ViewPlan['loaded'],
): ViewPlan {
  const dayRanges = dayRangesOf(days);
  const chunkDays = daysInRanges(dayRanges);
  return {
    ...run,
    chunk,
    loaded,
    dayRanges,
    dayCount: chunkDays.length,
    sql: compileSql(view, { days: chunkDays }),
  };
}
