import { isDeepStrictEqual } from 'node:util';
import type { DuckDbQueryEngine } from '../../functions/adapters/duckdb';
import {
  archiveRecord,
  type CompiledView,
  compileJs,
  compileSql,
  type DayRange,
  DEFAULT_DISTINCT_PRECISION,
  type DecodedEvent,
  dayOf,
  daysInRanges,
  decodeRecord,
  deduplicateEvents,
  type EventCatalog,
  type EventRecord,
  planSpeedWrites,
  rowKey,
  type SqlOptions,
  type StreamRecord,
  type ViewDefinition,
  type ViewRow,
} from '../../functions/core';
import { DIFFERENTIAL_CATALOGS } from './arbitraries';
import { withCatalog } from './events';

/** The two compilations under test; a test swaps in a broken one to prove the checker notices. */
export interface Compilers {
  readonly js: (view: ViewDefinition) => CompiledView;
  readonly sql: (view: ViewDefinition, options?: SqlOptions) => string;
}

export const realCompilers: Compilers = { js: compileJs, sql: compileSql };

export interface Comparison {
  readonly agree: boolean;
  readonly js: ViewRow[];
  readonly sql: ViewRow[];
}

const byKey = (rows: readonly ViewRow[]): ViewRow[] =>
  [...rows].sort((a, b) => {
    const ka = rowKey(a.bucket, a.group);
    const kb = rowKey(b.bucket, b.group);
    return a.bucket - b.bucket || (ka < kb ? -1 : ka > kb ? 1 : 0);
  });

/** A raw event as a stream record: its JSON, base64. */
const streamRecordOf = (event: EventRecord): StreamRecord => ({
  sequenceNumber: '0',
  partitionKey: '',
  data: Buffer.from(JSON.stringify(event)).toString('base64'),
  approximateArrivalTimestamp: 0,
});

/**
 * A view of every event of a catalog, one speed item per day: its contributions are the events the speed
 * layer routes to the catalog's views.
 */
const everyEventOf = (catalog: EventCatalog): ViewDefinition => ({
  name: 'every_event',
  version: 1,
  events: catalog,
  where: null,
  time: { field: catalog.timeField, bucket: 'day' },
  groupBy: [],
  measures: { events: { kind: 'count' } },
  distinctPrecision: DEFAULT_DISTINCT_PRECISION,
});

/**
 * The events of `catalog` the speed layer counts, as its catalog parses them, in the order given: each raw
 * event decoded as the speed layer decodes it (`decodeRecord`, by its `type`, among the differential
 * test's catalogs with `catalog` in place of the one of its name), then routed as it routes them
 * (`planSpeedWrites`: an event counts in its catalog's views only).
 */
export const validEvents = (catalog: EventCatalog, rawEvents: readonly EventRecord[]): EventRecord[] => {
  const catalogs = withCatalog(DIFFERENTIAL_CATALOGS, catalog);
  const decoded = rawEvents.flatMap((raw): DecodedEvent[] => {
    const result = decodeRecord(catalogs, streamRecordOf(raw));
    return result.ok ? [result] : [];
  });
  const plan = planSpeedWrites([compileJs(everyEventOf(catalog))], decoded);
  if (plan.unevaluable.length > 0) throw new Error(`unevaluable: ${plan.unevaluable[0]?.reason}`);
  const positions = [...plan.keys.values()]
    .flatMap((item) => item.contributions.map((contribution) => contribution.position))
    .sort((a, b) => a - b);
  return positions.map((position) => {
    const parsed = catalog.parse(decoded[position]?.event);
    if (!parsed.ok) throw new Error('the speed layer counted an event its catalog refuses');
    return parsed.event;
  });
};

/**
 * What the JavaScript side computes from raw events: the valid ones that count by the dedupe rule, over
 * every copy there is; with `days`, only the rows of those days (a bucket lies within its events' day).
 */
export function jsAnswer(
  view: ViewDefinition,
  rawEvents: readonly EventRecord[],
  js = compileJs,
  days?: readonly DayRange[],
): ViewRow[] {
  const rows = js(view)
    .reduce(deduplicateEvents(view, validEvents(view.events, rawEvents)))
    .sorted();
  if (days === undefined) return rows;
  const computed = new Set(daysInRanges(days));
  return rows.filter((row) => computed.has(dayOf(row.bucket)));
}

const wellFormed = (event: EventRecord): boolean =>
  Object.values(event).every((value) => typeof value !== 'string' || value.isWellFormed());

/**
 * The raw events as the batch layer reads them, each in its catalog's table (`type`): all but those of no
 * catalog and those holding a string that is not well-formed Unicode. No archive holds either (the
 * transform refuses them, checked here), and no JSON reader reads the latter: DuckDB fails on the whole
 * file. The validity predicates see every other invalid event, mistyped ones among them.
 */
export function batchReadable(
  view: Pick<ViewDefinition, 'events'>,
  rawEvents: readonly EventRecord[],
): EventRecord[] {
  const catalogs = withCatalog(DIFFERENTIAL_CATALOGS, view.events);
  return rawEvents.filter((event) => {
    if (wellFormed(event) && catalogs.catalogOf(event).ok) return true;
    if (archiveRecord(catalogs, streamRecordOf(event)).ok)
      throw new Error(`the archive kept ${JSON.stringify(event)}`);
    return false;
  });
}

/**
 * Runs one view over one event set (of any catalogs mixed) both ways: the JS reducer over the valid,
 * deduplicated events of the view's catalog (decoded by type) of all days, and the compiled SQL on DuckDB
 * over the raw events a JSON reader can read, each in its catalog's table, every day of them held as the
 * archive holds them. With `days`, the SQL computes only those (reading what it needs) and
 * the JS rows are those of the same days. They agree when the rows are identical.
 */
export async function compareCompilations(
  engine: DuckDbQueryEngine,
  view: ViewDefinition,
  rawEvents: readonly EventRecord[],
  compilers: Compilers = realCompilers,
  days?: readonly DayRange[],
): Promise<Comparison> {
  const js = byKey(jsAnswer(view, rawEvents, compilers.js, days));
  await engine.useEvents(batchReadable(view, rawEvents));
  const sql = byKey(
    await engine.runView(view, compilers.sql(view, days === undefined ? {} : { dayRanges: days })),
  );
  return { agree: isDeepStrictEqual(js, sql), js, sql };
}
