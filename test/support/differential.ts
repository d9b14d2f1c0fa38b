import { isDeepStrictEqual } from 'node:util';
import type { DuckDbQueryEngine } from '../../functions/adapters/duckdb';
import {
  archiveRecord,
  type CompiledView,
  compileJs,
  compileSql,
  deduplicateEvents,
  type EventRecord,
  rowKey,
  type ViewDefinition,
  type ViewRow,
} from '../../functions/core';

/** The two compilations under test; a test swaps in a broken one to prove the checker notices. */
export interface Compilers {
  readonly js: (view: ViewDefinition) => CompiledView;
  readonly sql: (view: ViewDefinition) => string;
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

/** What the JavaScript side computes from raw events: valid ones only, one per id. */
export function jsAnswer(view: ViewDefinition, rawEvents: readonly EventRecord[], js = compileJs): ViewRow[] {
  const valid = rawEvents.flatMap((raw) => {
    const parsed = view.events.parse(raw);
    return parsed.ok ? [parsed.event] : [];
  });
  return js(view).reduce(deduplicateEvents(view, valid)).sorted();
}

const wellFormed = (event: EventRecord): boolean =>
  Object.values(event).every((value) => typeof value !== 'string' || value.isWellFormed());

/**
 * The raw events as the batch layer reads them: all but those holding a string that is not well-formed
 * Unicode. No archive holds such a line (the transform refuses it, checked here), and no JSON reader
 * reads one: DuckDB fails on the whole file. The validity predicate sees every other invalid event.
 */
export function batchReadable(view: ViewDefinition, rawEvents: readonly EventRecord[]): EventRecord[] {
  return rawEvents.filter((event) => {
    if (wellFormed(event)) return true;
    const record = {
      sequenceNumber: '0',
      partitionKey: '',
      data: Buffer.from(JSON.stringify(event)).toString('base64'),
      approximateArrivalTimestamp: 0,
    };
    if (archiveRecord(view.events, record).ok) throw new Error(`the archive kept ${JSON.stringify(event)}`);
    return false;
  });
}

/**
 * Runs one view over one event set both ways: the JS reducer over the valid, id-deduplicated
 * events, and the compiled SQL on DuckDB over the raw events a JSON reader can read. They agree
 * when the rows are identical.
 */
export async function compareCompilations(
  engine: DuckDbQueryEngine,
  view: ViewDefinition,
  rawEvents: readonly EventRecord[],
  compilers: Compilers = realCompilers,
): Promise<Comparison> {
  const js = byKey(jsAnswer(view, rawEvents, compilers.js));
  await engine.useEvents(batchReadable(view, rawEvents));
  const sql = byKey(await engine.runView(view, compilers.sql(view)));
  return { agree: isDeepStrictEqual(js, sql), js, sql };
}
