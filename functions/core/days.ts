import { BUCKET_WIDTH_MS, bucketStart, dayOf } from './keys';

/** Event-time days (the archive's partitions) as a range of consecutive days, both ends included. */
export type DayRange = readonly [first: string, last: string];

const DAY_MS = BUCKET_WIDTH_MS.day;
const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** Whole days since 1970-01-01 of a `YYYY-MM-DD` day: what day arithmetic counts in. */
export function dayNumber(day: string): number {
  const start = DAY_PATTERN.test(day) ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
  // The round trip refuses what Date.parse would roll over (2026-02-30) and days dayOf cannot name.
  if (!Number.isSafeInteger(start) || start < 0 || dayOf(start) !== day)
    throw new RangeError(`bad day ${JSON.stringify(day)}: want YYYY-MM-DD from 1970-01-01`);
  return start / DAY_MS;
}

/** The event-time day number of an epoch-milliseconds time, as the SQL's `ts - ts % 86400000` counts it. */
export const dayNumberOfTime = (ts: number): number => bucketStart(ts, 'day') / DAY_MS;

export const dayAt = (number: number): string => dayOf(number * DAY_MS);

/** Every UTC day from the one holding `from` to the one holding `to - 1`: the days [from, to) touches. */
export function daysBetween(from: number, to: number): string[] {
  const days: string[] = [];
  for (let start = bucketStart(from, 'day'); start < to; start += DAY_MS) days.push(dayOf(start));
  return days;
}

/** Ranges sorted, and merged where they overlap or touch: the fewest ranges holding the same days. */
export function mergeDayRanges(ranges: Iterable<DayRange>): DayRange[] {
  const numbers = [...ranges]
    .map(([first, last]): [number, number] => [dayNumber(first), dayNumber(last)])
    .filter(([first, last]) => first <= last)
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [first, last] of numbers) {
    const previous = merged.at(-1);
    if (previous !== undefined && first <= previous[1] + 1) previous[1] = Math.max(previous[1], last);
    else merged.push([first, last]);
  }
  return merged.map(([first, last]) => [dayAt(first), dayAt(last)]);
}

/** The days as ranges of consecutive days, sorted. */
export const consecutiveDayRanges = (days: Iterable<string>): DayRange[] =>
  mergeDayRanges([...days].map((day): DayRange => [day, day]));

/** Each batch version's days (from `[day, batch version]` pairs, as a manifest maps them) as ranges. */
export function dayRangesByVersion(
  days: Iterable<readonly [day: string, batchVersion: string]>,
): Record<string, DayRange[]> {
  const byVersion = Map.groupBy(days, ([, version]) => version);
  return Object.fromEntries(
    [...byVersion].map(([version, entries]) => [version, consecutiveDayRanges(entries.map(([day]) => day))]),
  );
}

/** Every day of the ranges, in order, each once. */
export function daysInRanges(ranges: Iterable<DayRange>): string[] {
  const days: string[] = [];
  for (const [first, last] of mergeDayRanges(ranges))
    for (let number = dayNumber(first); number <= dayNumber(last); number++) days.push(dayAt(number));
  return days;
}

/** The ranges, each stretched `before` days earlier and `after` days later (never before 1970-01-01), merged. */
export function widenDayRanges(ranges: Iterable<DayRange>, before: number, after: number): DayRange[] {
  return mergeDayRanges(
    mergeDayRanges(ranges).map(
      ([first, last]): DayRange => [
        dayAt(Math.max(0, dayNumber(first) - before)),
        dayAt(dayNumber(last) + after),
      ],
    ),
  );
}
