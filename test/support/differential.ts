import { isDeepStrictEqual } from 'node:util';
import { catalogs as demoCatalogs } from '../../events';
import type { DuckDbQueryEngine } from '../../functions/adapters/duckdb';
import {
  archiveRecord,
  type CompiledView,
  compileJs,
  compileSql,
  type DayRange,
  dayOf,
  daysInRanges,
  decodeRecord,
  deduplicateEvents,
  defineEventCatalogs,
  type EventCatalog,
  type EventCatalogs,
  type EventRecord,
  rowKey,
  type SqlOptions,
  type StreamRecord,
  type ViewDefinition,
  type ViewRow,
} from '../../functions/core';

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

/**
 * The demo's catalogs with `catalog` in place of the one of its name (a test's variant: another dedupe
 * horizon): what events are decoded by alongside it.
 */
export const catalogsWith = (catalog: EventCatalog): EventCatalogs =>
  defineEventCatalogs([catalog, ...demoCatalogs.all.filter((other) => other.name !== catalog.name)]);

/** A raw event as a stream record: its JSON, base64. */
const streamRecordOf = (event: EventRecord): StreamRecord => ({
  sequenceNumber: '0',
  partitionKey: '',
  data: Buffer.from(JSON.stringify(event)).toString('base64'),
  approximateArrivalTimestamp: 0,
});

/**
 * The events of `catalog` it accepts, as it parses them: each raw event decoded as the speed layer decodes
 * it (`decodeRecord`, by its `type`), kept when its type names this catalog, as a view counts its
 * catalog's events only.
 */
export const validEvents = (catalog: EventCatalog, rawEvents: readonly EventRecord[]): EventRecord[] => {
  const catalogs = catalogsWith(catalog);
  return rawEvents.flatMap((raw) => {
    const decoded = decodeRecord(catalogs, streamRecordOf(raw));
    if (!decoded.ok || decoded.catalog !== catalog) return [];
    const parsed = catalog.parse(decoded.event);
    return parsed.ok ? [parsed.event] : [];
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
  const catalogs = catalogsWith(view.events);
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
