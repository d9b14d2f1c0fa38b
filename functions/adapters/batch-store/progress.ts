import { gunzipSync, gzipSync } from 'node:zlib';
import { progressKey } from '../../core/keys';
import type { Item, Table } from '../table';

/**
 * How far a backfill of a view version has come: shown in a run's outcome and, while runs load it, read
 * from its progress item (`DynamoBatchStore.viewProgress`).
 */
export interface BackfillProgress {
  /** The view definition's version being backfilled. */
  readonly version: number;
  /** Days loaded as the new version so far (over every run of this backfill). */
  readonly daysDone: number;
  /** Days with archive objects up to the watermark's day, as of the latest plan. */
  readonly daysTotal: number;
  /** Every day with objects up to this one is loaded (`''`: none yet); a resumed backfill goes on after it. */
  readonly loadedThrough: string;
  /** When the run that began the backfill started. */
  readonly startedAt: number;
}

/**
 * A view version's recompute as its runs load it, day by day: what a commit flips the manifest to, what
 * a failed backfill resumes from, and what clean-up keeps (versions not yet in any manifest).
 */
export interface ViewProgress {
  readonly view: string;
  readonly version: number;
  /** The run loading it; a later run's plan takes it over. */
  readonly runId: string;
  /** A backfill replaces every day of the manifest and may take several runs; otherwise one run's dirty days. */
  readonly backfill: boolean;
  /** When the run that began it started. */
  readonly startedAt: number;
  /** Every day with objects up to this one is loaded (`''`: none yet). */
  readonly loadedThrough: string;
  /**
   * The loaded days hold the archive as it was when this run started (a run that loaded past the days
   * loaded before it reloaded those changed since): a resumed backfill reloads the days changed since.
   */
  readonly loadedAsOf: number;
  /** Each loaded day's batch version. */
  readonly days: Readonly<Record<string, string>>;
  readonly daysTotal: number;
  readonly updatedAt: number;
  /** Set once a commit flipped the manifest to it. */
  readonly committedAt: number | null;
}

/** The progress of a backfill, without its days. */
export function backfillProgressOf(progress: ViewProgress): BackfillProgress {
  const daysDone = Object.keys(progress.days).length;
  return {
    version: progress.version,
    daysDone,
    // A day first marked after the plan counted them may be loaded too.
    daysTotal: Math.max(progress.daysTotal, daysDone),
    loadedThrough: progress.loadedThrough,
    startedAt: progress.startedAt,
  };
}

/** Another run took over a view's recompute (it planned later): this run's loads of it are not committed. */
export class ProgressTakenOverError extends Error {
  override readonly name = 'ProgressTakenOverError';
}

/**
 * Each load is a top-level attribute, `l_<run id>_<first day>`, holding its days gzipped: a load adds its
 * days in one update, never rewriting the others, and the item grows by a load (tens of bytes), not by
 * a day (an attribute a day passed 400 KB at about 10,000 days, within the catalog's time range).
 */
const LOAD_ATTRIBUTE = /^l_(.+)_(\d{4}-\d{2}-\d{2})$/;
const loadAttribute = (runId: string, firstDay: string) => `l_${runId}_${firstDay}`;
/** Progress items written before loads were packed: one attribute per day. */
const DAY_ATTRIBUTE = /^d_(\d{4}-\d{2}-\d{2})$/;

/** Each loaded day's batch version (the run that loaded it last), from a progress item. */
function loadedDays(item: Item): Record<string, string> {
  const days: Record<string, string> = {};
  for (const [name, value] of Object.entries(item)) {
    const day = DAY_ATTRIBUTE.exec(name)?.[1];
    if (day !== undefined && value.S !== undefined) days[day] = value.S;
  }
  // Loads in run order (run ids sort by start time), then day order: a later reload of a day wins.
  const loads = Object.entries(item)
    .map(([name, value]) => ({ match: LOAD_ATTRIBUTE.exec(name), value }))
    .filter(({ match, value }) => match !== null && value.B !== undefined)
    .map(({ match, value }) => ({
      runId: match?.[1] as string,
      firstDay: match?.[2] as string,
      days: JSON.parse(gunzipSync(value.B as Uint8Array).toString('utf8')) as string[],
    }))
    .sort((a, b) => (a.runId === b.runId ? (a.firstDay < b.firstDay ? -1 : 1) : a.runId < b.runId ? -1 : 1));
  for (const load of loads) for (const day of load.days) days[day] = load.runId;
  return days;
}

/** The progress items of view versions' recomputes. */
export class Progress {
  constructor(private readonly table: Table) {}

  /** A view version's progress, read consistently (a commit reads what its loads recorded), or null. */
  async get(view: string, version: number): Promise<ViewProgress | null> {
    const item = await this.table.get(progressKey(view, version), true);
    if (item === undefined) return null;
    return {
      view,
      version,
      runId: item.runId?.S ?? '',
      backfill: item.backfill?.BOOL === true,
      startedAt: Number(item.startedAt?.N ?? 0),
      loadedThrough: item.loadedThrough?.S ?? '',
      loadedAsOf: Number(item.loadedAsOf?.N ?? item.startedAt?.N ?? 0),
      days: loadedDays(item),
      daysTotal: Number(item.daysTotal?.N ?? 0),
      updatedAt: Number(item.updatedAt?.N ?? 0),
      committedAt: item.committedAt?.N === undefined ? null : Number(item.committedAt.N),
    };
  }

  /** What `GET /batch-runs/{id}` shows of a view version's recompute while runs load it, or null. */
  async summary(
    view: string,
    version: number,
  ): Promise<(BackfillProgress & { runId: string; backfill: boolean; committedAt: number | null }) | null> {
    const progress = await this.get(view, version);
    if (progress === null) return null;
    const { runId, backfill, committedAt } = progress;
    return { ...backfillProgressOf(progress), runId, backfill, committedAt };
  }

  /** Starts a view version's recompute afresh for a run: whatever an earlier one loaded is let go. */
  async start(progress: {
    view: string;
    version: number;
    runId: string;
    backfill: boolean;
    startedAt: number;
    daysTotal: number;
    now: number;
  }): Promise<void> {
    await this.table.put(progressKey(progress.view, progress.version), {
      runId: { S: progress.runId },
      backfill: { BOOL: progress.backfill },
      startedAt: { N: String(progress.startedAt) },
      loadedThrough: { S: '' },
      loadedAsOf: { N: String(progress.startedAt) },
      daysTotal: { N: String(progress.daysTotal) },
      updatedAt: { N: String(progress.now) },
    });
  }

  /** Hands an unfinished backfill to this run, keeping the days loaded so far. */
  async resume(view: string, version: number, runId: string, daysTotal: number, now: number): Promise<void> {
    await this.table.update(
      progressKey(view, version),
      'SET runId = :runId, daysTotal = :total, updatedAt = :now',
      {
        condition: 'attribute_exists(#pk) AND attribute_not_exists(committedAt)',
        values: { ':runId': { S: runId }, ':total': { N: String(daysTotal) }, ':now': { N: String(now) } },
      },
    );
  }

  /**
   * Records days a run loaded (each day's batch version is the run id), how far every day is loaded and,
   * when given, as of when the loaded days hold the archive, if the run still holds the progress. A run
   * that lost it to a later one fails here: its loads are not the ones the later run will commit.
   */
  async recordLoaded(
    view: string,
    version: number,
    runId: string,
    days: readonly string[],
    through: { readonly loadedThrough: string; readonly loadedAsOf?: number },
    now: number,
  ): Promise<void> {
    const first = [...days].sort()[0];
    const sets = [
      ...(first === undefined ? [] : ['#load = :loadDays']),
      ...(through.loadedAsOf === undefined ? [] : ['loadedAsOf = :asOf']),
      'loadedThrough = :through',
      'updatedAt = :now',
    ];
    const recorded = await this.table.updateIf(progressKey(view, version), `SET ${sets.join(', ')}`, {
      condition: 'runId = :runId AND attribute_not_exists(committedAt)',
      ...(first === undefined ? {} : { names: { '#load': loadAttribute(runId, first) } }),
      values: {
        ':runId': { S: runId },
        ...(first === undefined ? {} : { ':loadDays': { B: gzipSync(JSON.stringify(days)) } }),
        ':through': { S: through.loadedThrough },
        ':now': { N: String(now) },
        ...(through.loadedAsOf === undefined ? {} : { ':asOf': { N: String(through.loadedAsOf) } }),
      },
    });
    if (recorded === null)
      throw new ProgressTakenOverError(
        `${view} v${version}: another run took over its recompute, or committed it, before ${runId} recorded its load`,
      );
  }

  /** Marks a recompute committed: its days are the manifest's now, and nothing resumes it. */
  async complete(view: string, version: number, runId: string, now: number): Promise<void> {
    await this.table.update(
      progressKey(view, version),
      'SET committedAt = if_not_exists(committedAt, :now)',
      {
        condition: 'runId = :runId',
        values: { ':runId': { S: runId }, ':now': { N: String(now) } },
      },
    );
  }
}
