import type { EventCatalog } from './catalog';
import { compareCodePoints, type EventRecord } from './compile-js';
import {
  consecutiveDayRanges,
  type DayRange,
  dayAt,
  dayNumber,
  dayNumberOfTime,
  daysInRanges,
  mergeDayRanges,
  widenDayRanges,
} from './days';

/*
 * Producer duplicates: copies of an event sent more than once under its id, maybe with another time.
 * The rule, which both compilations implement (the SQL in compile-sql.ts, the JavaScript below):
 *
 *   With the catalog's dedupe horizon of H whole days, a copy on event-time day D counts if and only if
 *   (1) it is the first copy of its id on D in `dedupeOrderFields` order, and
 *   (2) no copy of its id lies on days D-H .. D-1.
 *
 * Copies at most H days apart therefore count once, on the earliest day (a chain of copies, each at
 * most H days after the one before, counts once), and copies further apart count once each: the
 * distant-copies report lists those ids. Only valid events are copies.
 *
 * The rule looks back only: a day's answer depends on that day and the H days before it. The batch
 * SQL computes a day by reading those (`dedupeReadRanges`), and a change to day D can change the answers
 * of days D .. D+H only (`daysAffectedBy`), whichever days a run recomputes.
 */

/** The order that picks a day's copy of an id: event time, then every other field, nulls last. */
export function dedupeOrderFields(catalog: EventCatalog): string[] {
  const others = Object.keys(catalog.fields).filter(
    (field) => field !== catalog.idField && field !== catalog.timeField,
  );
  return [catalog.timeField, ...others];
}

function compareCopies(fields: readonly string[], a: EventRecord, b: EventRecord): number {
  for (const field of fields) {
    const x = a[field] ?? null;
    const y = b[field] ?? null;
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    const order = typeof x === 'string' ? compareCodePoints(x, y as string) : (x as number) - (y as number);
    if (order !== 0) return order;
  }
  return 0;
}

/**
 * The rule above in JavaScript, over every copy there is: the valid events that count. The reference
 * the differential test holds the SQL to; a day's rows are those of the counted events of that day.
 */
export function deduplicateEvents(
  view: { readonly events: EventCatalog },
  events: Iterable<EventRecord>,
): EventRecord[] {
  const { idField, timeField, dedupeHorizonDays } = view.events;
  const fields = dedupeOrderFields(view.events);
  const copiesById = new Map<unknown, EventRecord[]>();
  for (const event of events) {
    const copies = copiesById.get(event[idField]);
    if (copies === undefined) copiesById.set(event[idField], [event]);
    else copies.push(event);
  }
  const counted: EventRecord[] = [];
  for (const copies of copiesById.values()) {
    // Time comes first in the order, so the sorted copies run through their days in order.
    copies.sort((a, b) => compareCopies(fields, a, b));
    let previousDay = Number.NEGATIVE_INFINITY;
    for (const copy of copies) {
      const day = dayNumberOfTime(copy[timeField] as number);
      if (day === previousDay) continue;
      if (day - previousDay > dedupeHorizonDays) counted.push(copy);
      previousDay = day;
    }
  }
  return counted;
}

/** The days a computation of these days reads: each with the dedupe horizon's days before it. */
export const dedupeReadRanges = (computed: Iterable<DayRange>, horizonDays: number): DayRange[] =>
  widenDayRanges(computed, horizonDays, 0);

/**
 * The days whose answers a change to these days (a copy added or removed) can change: each day and
 * the `horizonDays` after it, sorted. The batch layer recomputes them all.
 */
export const daysAffectedBy = (changedDays: Iterable<string>, horizonDays: number): string[] =>
  daysInRanges(widenDayRanges(consecutiveDayRanges(changedDays), 0, horizonDays));

/** An id counted more than once: its copies lie further apart than the dedupe horizon. */
export interface DistantCopies {
  readonly id: string;
  /** Every day holding a valid copy of the id, among the days read, ascending. */
  readonly days: readonly string[];
}

const inRanges = (ranges: readonly DayRange[]) => {
  const numbers = mergeDayRanges(ranges).map(([first, last]): [number, number] => [
    dayNumber(first),
    dayNumber(last),
  ]);
  return (day: number): boolean => numbers.some(([first, last]) => day >= first && day <= last);
};

/**
 * The distant-copies report in JavaScript, the reference for `compileDistantCopiesSql`: over the valid
 * events of the days a computation of `computed` reads (every day when not given), the ids with a copy
 * counted on a computed day although an earlier day holds a copy too. Such an id is counted at least
 * twice over all history, whatever the days not read hold. Sorted by id (code points, as SQL sorts).
 */
export function distantCopies(
  catalog: EventCatalog,
  events: Iterable<EventRecord>,
  computed?: readonly DayRange[],
): DistantCopies[] {
  const horizon = catalog.dedupeHorizonDays;
  const isRead = computed === undefined ? () => true : inRanges(dedupeReadRanges(computed, horizon));
  const isComputed = computed === undefined ? () => true : inRanges(computed);
  const daysById = new Map<string, Set<number>>();
  for (const event of events) {
    const day = dayNumberOfTime(event[catalog.timeField] as number);
    if (!isRead(day)) continue;
    const id = event[catalog.idField] as string;
    const days = daysById.get(id);
    if (days === undefined) daysById.set(id, new Set([day]));
    else days.add(day);
  }
  const listed: DistantCopies[] = [];
  for (const [id, daySet] of daysById) {
    const days = [...daySet].sort((a, b) => a - b);
    const countedAgain = days.some((day, index) => {
      const previous = days[index - 1];
      return previous !== undefined && day - previous > horizon && isComputed(day);
    });
    if (countedAgain) listed.push({ id, days: days.map(dayAt) });
  }
  return listed.sort((a, b) => compareCodePoints(a.id, b.id));
}

/** How many ids a data-quality report lists (by id); it counts them all. */
export const DISTANT_COPIES_LISTED = 100;

/**
 * How many days of an id a report lists: a backfill reads hundreds of days, and a report must fit one
 * item (400 KB) and twenty an API answer, whatever an id's copies.
 */
export const DISTANT_COPY_DAYS_LISTED = 31;
