import { randomBytes } from 'node:crypto';
import { BUCKET_WIDTH_MS, compileSql, dayOf } from '../core';
import { type DayRange, dayRangesOf, daysOf } from './days';
import type { BatchDeps } from './deps';
import { skippedLinesSql } from './skipped-lines';

export interface PlanInput {
  /** Views to recompute over all history, whatever their manifest says (the CLI's `backfill`). */
  readonly backfill?: readonly string[];
  /** Epoch milliseconds to plan as of; tests and replays set it. @default now */
  readonly now?: number;
  /** The run's id, when its starter chose one (the API does, to report on it). @default a new one */
  readonly runId?: string;
  /** The Step Functions execution running the plan: recorded, so the run can be described by its id. */
  readonly executionArn?: string;
}

/** A run id is also the batch version it writes and a Step Functions execution name (≤ 80 chars). */
const RUN_ID = /^[A-Za-z0-9_-]{1,80}$/;

export function newRunId(now: number): string {
  return `run-${new Date(now).toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
}

export interface ViewPlan {
  readonly view: string;
  readonly version: number;
  readonly watermark: number;
  readonly previousWatermark: number | null;
  /** The manifest revision this plan read; the commit is conditional on it (0: no manifest yet). */
  readonly expectedRevision: number;
  /**
   * Event-time days to recompute, as at most MAX_DAY_RANGES ranges: the plan travels in the state
   * machine's payloads (256 KB at most), so it must not grow with history. `daysOf` lists them.
   */
  readonly dayRanges: readonly DayRange[];
  /** How many days the ranges hold. */
  readonly dayCount: number;
  readonly backfill: boolean;
  readonly sql: string;
}

export interface RunPlan {
  readonly runId: string;
  readonly startedAt: number;
  readonly views: readonly ViewPlan[];
  /** The query counting the archive lines the engine skips as unreadable, over every day the run reads. */
  readonly skippedLines: { readonly sql: string };
}

const ARCHIVE_PREFIX = 'events/';
const DAY_OF_KEY = /^events\/dt=(\d{4}-\d{2}-\d{2})\//;

/**
 * Plans a run: per view, the new watermark `floor(now - settle)` and the days to recompute, up to the
 * watermark's day: days that received archive objects since the last committed run started, and days
 * never computed; every day on a first run or a backfill (a new view version).
 */
export async function plan(deps: BatchDeps, input: PlanInput = {}): Promise<RunPlan> {
  const startedAt = input.now ?? deps.now();
  const runId = input.runId ?? newRunId(startedAt);
  if (!RUN_ID.test(runId)) throw new RangeError(`bad run id ${JSON.stringify(runId)}: want ${RUN_ID.source}`);
  if (input.executionArn !== undefined)
    await deps.store.putRunExecution(runId, input.executionArn, deps.now());
  const objects = await deps.archive.list(ARCHIVE_PREFIX);
  const lastModifiedByDay = new Map<string, number>();
  for (const object of objects) {
    const day = DAY_OF_KEY.exec(object.key)?.[1];
    if (day !== undefined)
      lastModifiedByDay.set(day, Math.max(lastModifiedByDay.get(day) ?? 0, object.lastModified));
  }
  const catalog = deps.views[0]?.events;
  if (catalog === undefined) throw new Error('no views to plan');
  const views: ViewPlan[] = [];
  const daysRead = new Set<string>();
  for (const view of deps.views) {
    const manifest = await deps.store.getManifest(view.name);
    const width = BUCKET_WIDTH_MS[view.time.bucket];
    const settled = startedAt - deps.settleMs;
    const backfill =
      manifest === null || manifest.version !== view.version || (input.backfill ?? []).includes(view.name);
    // The watermark never moves back: buckets once served exact stay exact.
    const watermark = Math.max(settled - (settled % width), backfill ? 0 : (manifest?.watermark ?? 0));
    const lastDay = dayOf(Math.max(0, watermark - 1));
    const dirty = [...lastModifiedByDay.entries()]
      .filter(([day, lastModified]) => {
        if (day > lastDay || watermark === 0) return false;
        if (backfill || manifest === null) return true;
        // A run computes whole days, buckets past its watermark included: a day needs another run only
        // if it was never computed or received objects since the last run started.
        return manifest.days[day] === undefined || lastModified >= manifest.lastRunStartedAt;
      })
      .map(([day]) => day);
    const dayRanges = dayRangesOf(dirty);
    const days = daysOf(dayRanges);
    for (const day of days) daysRead.add(day);
    views.push({
      view: view.name,
      version: view.version,
      watermark,
      previousWatermark: backfill ? null : (manifest?.watermark ?? null),
      expectedRevision: manifest?.revision ?? 0,
      dayRanges,
      dayCount: days.length,
      backfill,
      sql: compileSql(view, { days }),
    });
  }
  deps.logger.info('batch run planned', {
    runId,
    views: views.map(({ view, watermark, dayCount, dayRanges, backfill }) => ({
      view,
      watermark,
      days: dayCount,
      dayRanges: dayRanges.length,
      backfill,
    })),
  });
  return { runId, startedAt, views, skippedLines: { sql: skippedLinesSql(catalog, [...daysRead]) } };
}

/** What the state machine passes: its input, and the execution's ARN from the context object. */
export interface PlanEvent {
  readonly input: PlanInput;
  readonly executionArn: string;
}
