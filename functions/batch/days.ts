/** Event-time days a run recomputes, as ranges of consecutive days: `[first, last]`, both included. */
export type DayRange = readonly [first: string, last: string];

/**
 * At most this many day ranges per view and run: a plan's payload and its SQL stay the same size
 * however long the history and however scattered its late events.
 */
export const MAX_DAY_RANGES = 32;

const DAY_MS = 86_400_000;
const dayNumber = (day: string): number => Date.parse(`${day}T00:00:00Z`) / DAY_MS;
const dayAt = (number: number): string => new Date(number * DAY_MS).toISOString().slice(0, 10);

/**
 * The days as at most `maxRanges` ranges. Past that many, the shortest gaps between ranges are closed:
 * the days in them are recomputed too, which changes nothing in their answer (the same archive gives
 * the same rows; a day without objects gets an empty version) and costs only the bytes they hold.
 */
export function dayRangesOf(days: Iterable<string>, maxRanges = MAX_DAY_RANGES): DayRange[] {
  const numbers = [...new Set(days)].map(dayNumber).sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const number of numbers) {
    const last = ranges.at(-1);
    if (last !== undefined && last[1] + 1 === number) last[1] = number;
    else ranges.push([number, number]);
  }
  const excess = ranges.length - Math.max(1, maxRanges);
  if (excess > 0) {
    // Close the `excess` shortest gaps (the earliest of equal ones): gap i lies after range i.
    const gaps = ranges
      .slice(0, -1)
      .map((range, index) => ({ index, days: (ranges[index + 1] as [number, number])[0] - range[1] }))
      .sort((a, b) => a.days - b.days || a.index - b.index)
      .slice(0, excess);
    const closed = new Set(gaps.map((gap) => gap.index));
    const merged: [number, number][] = [];
    for (const [index, range] of ranges.entries()) {
      const previous = merged.at(-1);
      if (previous !== undefined && closed.has(index - 1)) previous[1] = range[1];
      else merged.push([...range]);
    }
    ranges.splice(0, ranges.length, ...merged);
  }
  return ranges.map(([first, last]) => [dayAt(first), dayAt(last)]);
}

/** Every day of the ranges, in order. */
export function daysOf(ranges: readonly DayRange[]): string[] {
  const days: string[] = [];
  for (const [first, last] of ranges)
    for (let number = dayNumber(first); number <= dayNumber(last); number++) days.push(dayAt(number));
  return days;
}
