import { runExecutionKey, runOutcomeKey, TABLE_ATTRIBUTES } from '../../core/keys';
import { getJson, putJson } from '../json-records';
import type { Item, Table } from '../table';
import type { DistantCopiesSummary, SingleDistantCopiesSummary } from './data-quality';
import type { BackfillProgress } from './progress';

/** Step Functions keeps a Standard execution's history 90 days; a run's records are kept as long. */
const RUN_RECORD_TTL_SECONDS = 90 * 86_400;

/** The TTL attribute of a record of a run recorded at `now`. */
export const runRecordExpiry = (now: number): Item => ({
  [TABLE_ATTRIBUTES.expiresAt]: { N: String(Math.floor(now / 1000) + RUN_RECORD_TTL_SECONDS) },
});

/** What became of one view in a batch run. */
export type ViewOutcome =
  | {
      readonly view: string;
      readonly status: 'committed';
      readonly watermark: number;
      readonly previousWatermark: number | null;
      /** The manifest revision this run's commit wrote. */
      readonly revision: number;
      /** Event-time days recomputed, and the rows loaded for them, by this run. */
      readonly days: number;
      readonly rows: number;
      /** The backfill this commit completed (the manifest now serves its version), or null. */
      readonly backfill: BackfillProgress | null;
      /** Exact values it restated (the ledger lists them); null if recording failed; absent in older outcomes. */
      readonly restatements?: number | null;
    }
  | {
      readonly view: string;
      /**
       * A backfill loaded as many days as a run may (`loadsPerRun` loads) and goes on in the next run; the
       * manifest still serves the previous version, whole.
       */
      readonly status: 'backfilling';
      readonly days: number;
      readonly rows: number;
      readonly backfill: BackfillProgress;
      /**
       * Every day is loaded, but the new version replaces the one served only once the speed layer has
       * counted it from before the watermark (`maySwitchDefinition`): why the switch waits. Absent otherwise.
       */
      readonly awaitingSpeed?: AwaitingSpeed;
    }
  | {
      readonly view: string;
      readonly status: 'failed';
      /** The state that failed: its query, its load or its commit. The manifest is as it was. */
      readonly step: 'Query' | 'Load' | 'Commit';
      /** The error's name (e.g. States.TaskFailed, ManifestConflictError) and cause, as Step Functions gave them. */
      readonly error: string;
      readonly cause: string;
      /** A failed backfill keeps what it loaded: the next run resumes after `loadedThrough`. Null if none. */
      readonly backfill: BackfillProgress | null;
    }
  | {
      readonly view: string;
      /** Not recomputed: its code's version was rolled back; the manifest serves an older one until a bump. */
      readonly status: 'rolled-back';
      readonly version: number;
      readonly reason: string;
    };

/** Why a loaded backfill of a new view version does not switch the manifest yet. */
export interface AwaitingSpeed {
  /** When speed functions began counting the new version; null while none has. */
  readonly countingSince: number | null;
  /** The least watermark the switch needs (the bucket boundary at or after `countingSince` + margin), or null. */
  readonly switchFrom: number | null;
  /** This run's watermark, short of `switchFrom` (absent in outcomes recorded before it was kept). */
  readonly watermark?: number;
  readonly reason: string;
}

/** Archive lines the query engine could not read (malformed JSON, invalid Unicode): skipped, not fatal. */
export interface SkippedLines {
  /** Lines skipped over the days the run read; null when they could not be counted (see `error`). */
  readonly lines: number | null;
  /** Objects holding at least one skipped line. */
  readonly objects: number | null;
  /** Those objects (archive keys), most skipped lines first, at most SKIPPED_OBJECTS_LISTED of them. */
  readonly byObject: readonly { readonly object: string; readonly lines: number }[];
  /** Why the count failed, or null. */
  readonly error: string | null;
}

/** How many objects with skipped lines a run's outcome names. */
export const SKIPPED_OBJECTS_LISTED = 100;

/** What a batch run did, recorded by its commit step: per view, the archive lines it skipped, its distant copies. */
export interface BatchRunOutcome {
  readonly runId: string;
  readonly startedAt: number;
  readonly recordedAt: number;
  readonly views: readonly ViewOutcome[];
  readonly skippedLines: SkippedLines;
  /** Per catalog the views read (one summary, without its catalog, in outcomes recorded before). */
  readonly distantCopies: readonly DistantCopiesSummary[] | SingleDistantCopiesSummary;
}

/** A batch run's records: its Step Functions execution and its outcome. */
export class Runs {
  constructor(private readonly table: Table) {}

  /** Records which Step Functions execution runs `runId`, for as long as Step Functions can describe it. */
  async putExecution(runId: string, executionArn: string, now: number): Promise<void> {
    await this.table.put(runExecutionKey(runId), {
      executionArn: { S: executionArn },
      ...runRecordExpiry(now),
    });
  }

  /** The execution recorded for `runId`, or null. */
  async execution(runId: string): Promise<string | null> {
    return (await this.table.get(runExecutionKey(runId)))?.executionArn?.S ?? null;
  }

  /** Records what a run did; a retried commit step rewrites the same record. */
  async putOutcome(outcome: BatchRunOutcome, now: number): Promise<void> {
    await putJson(this.table, runOutcomeKey(outcome.runId), 'outcome', outcome, runRecordExpiry(now));
  }

  /** What a run did (per view, skipped lines), once its commit step ran; null before, or for no such run. */
  outcome(runId: string): Promise<BatchRunOutcome | null> {
    return getJson<BatchRunOutcome>(this.table, runOutcomeKey(runId), 'outcome', true);
  }
}
