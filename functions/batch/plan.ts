import { randomBytes } from 'node:crypto';
import {
  type DayRange,
  type EventCatalog,
  lastBatchDay,
  nextWatermark,
  runAsOf,
  servedWatermark,
} from '../core';
import { RUN_ID } from '../core/keys';
import type { Settle } from '../core/lateness';
import type { CatalogRead } from './catalog-reads';
import { chunkPlan, type DayScope, scopeDays } from './chunks';
import { dayRangesOf } from './days';
import type { BatchDeps } from './deps';
import { distantCopiesSql } from './distant-copies';
import { viewSettles } from './settle';
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
  /** A backfill replaces every day of the manifest; it may take several runs and resumes where it stopped. */
  readonly backfill: boolean;
  /** When this run started (its plan's time). */
  readonly runStartedAt: number;
  /** The days the run recomputes for the view: one load after another goes through them in order. */
  readonly scope: DayScope;
  /** The settle time the watermark trails by: the stage's fixed one, or learned from arrivals (`auto`). */
  readonly settle: Settle;
  /** Which load of the run this is (0: the first). */
  readonly chunk: number;
  /** What the earlier loads of this run loaded. */
  readonly loaded: { readonly days: number; readonly rows: number };
  /**
   * This load's event-time days (at most `daysPerLoad`), as ranges: the plan travels in the state
   * machine's payloads (256 KB at most), so it must not grow with history. `daysInRanges` lists them.
   */
  readonly dayRanges: readonly DayRange[];
  /** How many days the ranges hold. */
  readonly dayCount: number;
  /** The view's SQL over this load's days. */
  readonly sql: string;
}

/** One catalog's part of the data-quality report, as the plan passes it on to Commit. */
export interface DistantCopiesCatalog {
  readonly catalog: string;
  readonly horizonDays: number;
  readonly dayRanges: readonly DayRange[];
}

export interface RunPlan {
  readonly runId: string;
  readonly startedAt: number;
  /** Each view's first load; each load plans the next. */
  readonly views: readonly ViewPlan[];
  /**
   * Views whose manifest serves another version than the code's whose stored definition no longer builds
   * over the catalog: the API serves the code's version from speed alone until the new one switches. The
   * run goes on (the backfill is the way out) and ends failed, alarmed.
   */
  readonly unservable?: readonly {
    readonly view: string;
    readonly version: number;
    readonly reason: string;
  }[];
  /** Views not recomputed: their code's version was rolled back (`driftless rollback`). */
  readonly rolledBack?: readonly {
    readonly view: string;
    readonly version: number;
    readonly reason: string;
  }[];
  /** The query counting the archive lines the engine skips as unreadable, over every day the run reads. */
  readonly skippedLines: { readonly sql: string };
  /**
   * The data-quality report's query: per catalog the views read, the ids whose copies lie further apart
   * than its dedupe horizon, counted again on a day the run recomputes of it (its views' days).
   */
  readonly distantCopies: {
    /** Each catalog reported on, with its horizon and its days as ranges (at most MAX_DAY_RANGES each). */
    readonly catalogs: readonly DistantCopiesCatalog[];
    readonly sql: string;
  };
}

/**
 * Plans a run: per view, the new watermark `floor(min(now, archive complete through) - settle)` (W never
 * passes what the archive holds, `nextWatermark`) and the days to recompute, up to the
 * watermark's day, from the archive markers (never a listing of the archive): days whose archive
 * received objects since the last committed run started, and days the watermark newly covers; every
 * day on a first run or a backfill (a new view version, or asked for), `loadsPerRun` loads of
 * `daysPerLoad` days at most per run. A backfill a failed or unfinished run left resumes after the last
 * day it loaded, reloading the loaded days that changed since it began. The plan records each view's
 * recompute (`ViewProgress`) for its loads and its commit, and holds only each view's first load.
 */
export async function plan(deps: BatchDeps, input: PlanInput = {}): Promise<RunPlan> {
  const startedAt = input.now ?? deps.now();
  const runId = input.runId ?? newRunId(startedAt);
  if (!RUN_ID.test(runId)) throw new RangeError(`bad run id ${JSON.stringify(runId)}: want ${RUN_ID.source}`);
  if (input.executionArn !== undefined)
    await deps.store.putRunExecution(runId, input.executionArn, deps.now());
  if (deps.views.length === 0) throw new Error('no views to plan');
  // Asked once the run has started: every event accepted before the answer is in the archive.
  const bounds = {
    startedAt,
    archiveCompleteThrough: await deps.archive.completeThrough(),
  };
  const settleOfView = viewSettles(deps, startedAt);
  const views: ViewPlan[] = [];
  /** Per catalog (by name), the catalog and the days the run reads of it. */
  const daysRead = new Map<string, { catalog: EventCatalog; days: Set<string> }>();
  for (const view of deps.views)
    if (!daysRead.has(view.events.name))
      daysRead.set(view.events.name, { catalog: view.events, days: new Set() });
  const rolledBack: { view: string; version: number; reason: string }[] = [];
  const unservable: { view: string; version: number; reason: string }[] = [];
  for (const view of deps.views) {
    // Kept as data: once committed, this version is served (and counted) from it while a later one backfills.
    await deps.store.definitions.register(view, startedAt, { counting: false });
    const manifest = await deps.store.getManifest(view.name);
    if (manifest !== null && manifest.version !== view.version) {
      const served = await deps.store.definitions.definitionOf(view, manifest.version);
      if (served.error !== null && served.registered) {
        deps.logger.error(
          'the served version no longer builds: the API serves the code version from speed alone',
          {
            runId,
            view: view.name,
            version: manifest.version,
            reason: served.error,
          },
        );
        unservable.push({ view: view.name, version: manifest.version, reason: served.error });
      }
    }
    if (manifest?.rolledBackVersions?.includes(view.version)) {
      const reason = `version ${view.version} was rolled back to version ${manifest.version} (revision ${manifest.revision}): not recomputed until the view's version is bumped`;
      deps.logger.warn('view skipped: its version was rolled back', { runId, view: view.name, reason });
      rolledBack.push({ view: view.name, version: view.version, reason });
      continue;
    }
    const progress = await deps.store.getProgress(view.name, view.version);
    const resumed = progress?.backfill && progress.committedAt === null ? progress : null;
    const backfill =
      manifest === null ||
      manifest.version !== view.version ||
      (input.backfill ?? []).includes(view.name) ||
      resumed !== null;
    const previousWatermark = backfill ? null : servedWatermark(manifest);
    const settle = await settleOfView(view.name);
    const watermark = nextWatermark(
      { ...bounds, settleMs: settle.ms },
      view.time.bucket,
      previousWatermark ?? 0,
    );
    const lastDay = lastBatchDay(watermark) ?? '';
    // A run computes whole days, buckets past its watermark included: a day needs another run only if
    // its archive received objects since the last run started, or the watermark newly covers it.
    // The view's catalog's days only: another catalog's deliveries change none of its rows.
    const catalog = view.events.name;
    const horizonDays = view.events.dedupeHorizonDays;
    const scope: DayScope =
      resumed !== null
        ? { catalog, lastDay, allAfter: resumed.loadedThrough, changedSince: resumed.loadedAsOf, horizonDays }
        : backfill || manifest === null
          ? { catalog, lastDay, allAfter: '', changedSince: null, horizonDays }
          : {
              catalog,
              lastDay,
              allAfter: lastBatchDay(manifest.watermark) ?? '',
              changedSince: manifest.lastRunStartedAt,
              horizonDays,
            };
    const runDays = await scopeDays(
      deps.store,
      scope,
      '',
      backfill ? deps.daysPerLoad * deps.loadsPerRun : Number.POSITIVE_INFINITY,
    );
    const daysTotal =
      !backfill || lastDay === '' ? runDays.length : await deps.store.countArchiveDays(catalog, lastDay);
    if (resumed !== null)
      await deps.store.resumeProgress(view.name, view.version, runId, daysTotal, deps.now());
    else
      await deps.store.startProgress({
        view: view.name,
        version: view.version,
        runId,
        backfill,
        startedAt,
        daysTotal,
        now: deps.now(),
      });
    const read = daysRead.get(catalog) as { days: Set<string> };
    for (const day of runDays) read.days.add(day);
    views.push(
      chunkPlan(
        view,
        {
          view: view.name,
          version: view.version,
          watermark,
          previousWatermark,
          expectedRevision: manifest?.revision ?? 0,
          backfill,
          runStartedAt: startedAt,
          scope,
          settle,
        },
        runDays.slice(0, deps.daysPerLoad),
        0,
        { days: 0, rows: 0 },
      ),
    );
  }
  deps.logger.info('batch run planned', {
    runId,
    asOf: runAsOf(bounds),
    archiveCompleteThrough: bounds.archiveCompleteThrough,
    views: views.map(({ view, watermark, dayCount, backfill, scope, settle }) => ({
      view,
      watermark,
      settle,
      firstLoadDays: dayCount,
      backfill,
      scope,
    })),
  });
  // Ranges, not days: the count's and the report's SQL stay as small as a view's however scattered the days.
  const reads: CatalogRead[] = [...daysRead.values()].map(({ catalog, days }) => ({
    catalog,
    dayRanges: dayRangesOf(days),
  }));
  return {
    runId,
    startedAt,
    views,
    ...(rolledBack.length === 0 ? {} : { rolledBack }),
    ...(unservable.length === 0 ? {} : { unservable }),
    skippedLines: {
      sql: skippedLinesSql(reads),
    },
    // A report per catalog the views read (each over its own days), none for a catalog no view reads.
    distantCopies: {
      catalogs: reads.map(({ catalog, dayRanges }) => ({
        catalog: catalog.name,
        horizonDays: catalog.dedupeHorizonDays,
        dayRanges,
      })),
      sql: distantCopiesSql(reads),
    },
  };
}

/** What the state machine passes: its input, and the execution's ARN from the context object. */
export interface PlanEvent {
  readonly input: PlanInput;
  readonly executionArn: string;
}
