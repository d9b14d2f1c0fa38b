import { consecutiveDayRanges, type DayRange, dayAt, dayNumber } from '../core/days';

/**
 * At most this many day ranges per view and run: a plan's payload and its SQL stay the same size
 * however long the history and however scattered its late events.
 */
export const MAX_DAY_RANGES = 32;

/**
 * The days as at most `maxRanges` ranges. Past that many, the shortest gaps between ranges are closed:
 * the days in them are recomputed too, which changes nothing in their answer (the same archive gives
 * the same rows; a day without objects gets an empty version) and costs only the bytes they hold.
 */
export function dayRangesOf(days: Iterable<string>, maxRanges = MAX_DAY_RANGES): DayRange[] {
  const ranges = consecutiveDayRanges(days).map(([first, last]): [number, number] => [
    dayNumber(first),
    dayNumber(last),
  ]);
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
