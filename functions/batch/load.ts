import { dayOf, daysInRanges, parseSqlRow, type ViewRow } from '../core';
import { chunkPlan, scopeDays } from './chunks';
import { type BatchDeps, viewNamed } from './deps';
import type { ViewPlan } from './plan';
import { recordLoadRead } from './provenance';

export interface LoadInput {
  readonly runId: string;
  readonly view: ViewPlan;
  /** The finished query of the view's SQL (Athena's QueryExecutionId). */
  readonly queryExecutionId: string;
}

export interface LoadOutput {
  readonly view: string;
  /** Rows and days this run loaded for the view, over all its loads so far. */
  readonly rows: number;
  readonly days: number;
  /** Every day of the run's scope is loaded: the commit may flip the manifest. */
  readonly complete: boolean;
  /** The next load's plan, or null: the state machine loops on it. */
  readonly next: ViewPlan | null;
}

/**
 * Loads a view's query results as a new batch version of each day of this load, beside the active one,
 * records them in the view's progress, and plans the next load: the next `daysPerLoad` days of the
 * run's scope. Nothing is served from it until the commit flips the manifest; rerunning it rewrites the
 * same items. A backfill stops after `loadsPerRun` loads, not complete: the next run resumes it.
 */
export async function load(deps: BatchDeps, input: LoadInput): Promise<LoadOutput> {
  const plan = input.view;
  const view = viewNamed(deps, plan.view);
  const chunkDays = daysInRanges(plan.dayRanges);
  const byDay = new Map<string, ViewRow[]>(chunkDays.map((day) => [day, []]));
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
  await recordLoadRead(deps, input.runId, plan, plan.dayRanges);
  const last = chunkDays.at(-1);
  if (last !== undefined) {
    // Loads go through the scope in day order, the changed days loaded before come first: once a load
    // reaches the last day loaded before, every day up to its last one is loaded as of this run's start
    // (reaching it, not only passing it: a reload that fills a whole load must still move the backfill on).
    const passed = last >= plan.scope.allAfter;
    await deps.store.recordLoaded(
      view.name,
      view.version,
      input.runId,
      chunkDays,
      passed
        ? { loadedThrough: last, loadedAsOf: plan.runStartedAt }
        : { loadedThrough: plan.scope.allAfter },
      deps.now(),
    );
  }
  const loaded = { days: plan.loaded.days + chunkDays.length, rows: plan.loaded.rows + rows };
  const nextDays = last === undefined ? [] : await scopeDays(deps.store, plan.scope, last, deps.daysPerLoad);
  const stopped = plan.backfill && nextDays.length > 0 && plan.chunk + 1 >= deps.loadsPerRun;
  const next =
    nextDays.length === 0 || stopped ? null : chunkPlan(view, plan, nextDays, plan.chunk + 1, loaded);
  deps.logger.info('batch view loaded', {
    runId: input.runId,
    view: view.name,
    chunk: plan.chunk,
    rows,
    days: chunkDays.length,
    nextDays: next?.dayCount ?? 0,
    stopped,
  });
  return { view: view.name, rows: loaded.rows, days: loaded.days, complete: !stopped, next };
}
