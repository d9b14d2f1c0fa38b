import { compileJs, type EventRecord, encodeMeasure, type ViewDefinition } from '../../functions/core';

/** A series answer's shape, as far as the tests compare it. */
export interface SeriesAnswer {
  watermark: number;
  buckets: { start: number; source: string; groups: { key: Record<string, unknown>; values: object }[] }[];
}

export const seriesKey = (start: number, key: Record<string, unknown>) => `${start}|${JSON.stringify(key)}`;

/**
 * The view's rows over [from, to) as the series answers them (the JS reducer), keyed by bucket and group:
 * from the events of its catalog (an event's `type`; an untyped one is taken as the view's).
 */
export function expectedSeries(
  view: ViewDefinition,
  events: readonly EventRecord[],
  from: number,
  to: number,
) {
  return new Map(
    compileJs(view)
      .reduce(events.filter((event) => (event.type ?? view.events.name) === view.events.name))
      .sorted()
      .filter((row) => row.bucket >= from && row.bucket < to)
      .map((row) => [
        seriesKey(
          row.bucket,
          Object.fromEntries(view.groupBy.map((field, i) => [field, row.group[i] ?? null])),
        ),
        Object.fromEntries(Object.entries(row.values).map(([name, value]) => [name, encodeMeasure(value)])),
      ]),
  );
}

/** A series answer's groups over [from, to), keyed as `expectedSeries` keys them. */
export function answeredSeries(
  body: SeriesAnswer,
  from = Number.NEGATIVE_INFINITY,
  to = Number.POSITIVE_INFINITY,
) {
  return new Map(
    body.buckets
      .filter((bucket) => bucket.start >= from && bucket.start < to)
      .flatMap((bucket) => bucket.groups.map((group) => [seriesKey(bucket.start, group.key), group.values])),
  );
}
