import { dayOf, parseSqlRow, type ViewRow } from '../core';
import { daysOf } from './days';
import { type BatchDeps, viewNamed } from './deps';
import type { ViewPlan } from './plan';

export interface LoadInput {
  readonly runId: string;
  readonly view: ViewPlan;
  /** The finished query of the view's SQL (Athena's QueryExecutionId). */
  readonly queryExecutionId: string;
}

export interface LoadOutput {
  readonly view: string;
  readonly rows: number;
  readonly days: number;
}

/**
 * Loads a view's query results as a new batch version of each planned day, beside the active one.
 * Nothing is served from it until the commit flips the manifest; rerunning it rewrites the same items.
 */
export async function load(deps: BatchDeps, input: LoadInput): Promise<LoadOutput> {
  const view = viewNamed(deps, input.view.view);
  const byDay = new Map<string, ViewRow[]>(daysOf(input.view.dayRanges).map((day) => [day, []]));
  let rows = 0;
  for await (const record of deps.engine.results(input.queryExecutionId)) {
    const row = parseSqlRow(view, record);
    const day = dayOf(row.bucket);
    const dayRows = byDay.get(day);
    if (dayRows === undefined)
      throw new Error(`query ${input.queryExecutionId} returned a row of unplanned day ${day}`);
    dayRows.push(row);
    rows++;
  }
  const now = deps.now();
  // Every planned day gets a version, even an empty one: a day whose events all turned out invalid serves nothing.
  for (const [day, dayRows] of byDay) await deps.store.writeDay(view, input.runId, day, dayRows, now);
  deps.logger.info('batch view loaded', { runId: input.runId, view: view.name, rows, days: byDay.size });
  return { view: view.name, rows, days: byDay.size };
}
