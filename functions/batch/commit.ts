import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { distantCopiesSummary } from '../adapters/batch-store/data-quality';
import { switchOf } from '../adapters/batch-store/manifest';
import {
  type BackfillProgress,
  backfillProgressOf,
  type DataQualityReport,
  type Manifest,
  ManifestConflictError,
  ProgressTakenOverError,
  type SkippedLines,
  type ViewOutcome,
} from '../adapters/dynamo-batch-store';
import { BATCH_METRICS } from '../commons/metrics';
import { definitionHash } from '../core';
import { awaitingSpeed } from './definition-switch';
import { type BatchDeps, viewNamed } from './deps';
import { readDistantCopies } from './distant-copies';
import { beginCommitRecording, ledgerDeadline, recordCommitRestatements } from './ledger';
import type { LoadOutput } from './load';
import type { RunPlan, ViewPlan } from './plan';
import { recordProvenance } from './provenance';
import { readSkippedLines } from './skipped-lines';

/** An error as a Step Functions catcher passes it on. */
export interface StepError {
  readonly Error?: string;
  readonly Cause?: string;
}

/** A view whose query or load failed, as the per-view Map's catchers record it. */
export interface ViewFailure {
  readonly view: string;
  readonly step: 'Query' | 'Load';
  readonly failure: StepError;
}

/** An Athena state's outcome, as the state machine adds it beside the query's plan. */
interface QueryRun {
  /** The finished query (its id), or why it failed. */
  readonly query?: { readonly QueryExecutionId: string };
  readonly failure?: StepError;
}

/** What Commit is given: the plan, each view's load or failure, the skipped-lines count and distant-copies queries. */
export interface CommitInput extends Omit<RunPlan, 'skippedLines' | 'distantCopies'> {
  readonly loaded: readonly (LoadOutput | ViewFailure)[];
  readonly skippedLines: RunPlan['skippedLines'] & QueryRun;
  readonly distantCopies: RunPlan['distantCopies'] & QueryRun;
}

export interface CommittedView {
  readonly view: string;
  readonly watermark: number;
  readonly previousWatermark: number | null;
  readonly revision: number;
  /** Exact values the commit restated (in the ledger); null while still being recorded (clean-up goes on). */
  readonly restatements: number | null;
}

export interface FailedView {
  readonly view: string;
  readonly step: 'Query' | 'Load' | 'Commit';
  readonly error: string;
}

export interface CommitOutput {
  readonly runId: string;
  readonly committed: readonly CommittedView[];
  readonly failed: readonly FailedView[];
  /**
   * Why the run must end failed (a view failed, skipped lines went uncounted, or distant copies
   * unlisted); null when it is whole.
   */
  readonly incomplete: string | null;
}

/** How much of an error's cause a run's outcome keeps: Athena's causes carry the whole query. */
const CAUSE_CHARS = 2_000;

const truncated = (text: string, chars: number) =>
  text.length <= chars ? text : `${text.slice(0, chars)}... (${text.length - chars} more characters)`;

/**
 * Flips each view's manifest to the new watermark and day versions in one conditional write: readers
 * see the old view or the new one, never half a load. The day versions are those the view's loads
 * recorded in its progress; a backfill's replace every day, and it commits only once all its days are
 * loaded (until then the manifest serves the previous version, whole). Each view commits on its own:
 * one whose query or load failed, or whose manifest another run moved first, keeps its manifest while
 * the others commit. The run's outcome (per view, backfill progress, the archive lines skipped as
 * unreadable, and the ids counted more than once) is recorded for the API, and its data-quality reports
 * (those ids with their days, one per catalog the views read) beside each catalog's others; a run with a
 * failed view, or whose count or report failed, is reported incomplete, so that the state machine ends
 * it failed (alarmed).
 */
export async function commit(deps: BatchDeps, input: CommitInput): Promise<CommitOutput> {
  const committed: CommittedView[] = [];
  const outcomes: ViewOutcome[] = [];
  // One ledger budget for every view this step commits: what it leaves, clean-up records.
  const deadline = ledgerDeadline(deps, 'commit');
  for (const viewPlan of input.views) {
    const loaded = input.loaded.find((result) => result.view === viewPlan.view);
    const backfill = async (): Promise<BackfillProgress | null> => {
      if (!viewPlan.backfill) return null;
      const progress = await deps.store.getProgress(viewPlan.view, viewPlan.version);
      return progress === null ? null : backfillProgressOf(progress);
    };
    if (loaded === undefined || 'failure' in loaded) {
      outcomes.push({
        view: viewPlan.view,
        status: 'failed',
        step: loaded?.step ?? 'Load',
        error: loaded?.failure.Error ?? 'NotLoaded',
        cause: truncated(
          loaded?.failure.Cause ?? 'the per-view map returned nothing for this view',
          CAUSE_CHARS,
        ),
        backfill: await backfill(),
      });
      continue;
    }
    // Read once for the switch check and the commit; the commit's write is conditional on its revision.
    const served = loaded.complete ? await deps.store.getManifest(viewPlan.view) : null;
    // A new version switches only once the speed layer has counted it from before the watermark.
    const awaiting = loaded.complete ? await awaitingSpeed(deps, viewPlan, served) : null;
    if (!loaded.complete || awaiting !== null) {
      outcomes.push({
        view: viewPlan.view,
        status: 'backfilling',
        days: loaded.days,
        rows: loaded.rows,
        backfill: (await backfill()) as BackfillProgress,
        ...(awaiting === null ? {} : { awaitingSpeed: awaiting }),
      });
      continue;
    }
    try {
      const { view, progress } = await commitView(deps, input, viewPlan, served, deadline);
      committed.push(view);
      outcomes.push({
        ...view,
        status: 'committed',
        days: loaded.days,
        rows: loaded.rows,
        backfill: viewPlan.backfill ? progress : null,
      });
    } catch (error) {
      const { name, message } = error instanceof Error ? error : new Error(String(error));
      outcomes.push({
        view: viewPlan.view,
        status: 'failed',
        step: 'Commit',
        error: name,
        cause: truncated(message, CAUSE_CHARS),
        backfill: await backfill(),
      });
    }
  }
  for (const { view, version, reason } of input.rolledBack ?? [])
    outcomes.push({ view, status: 'rolled-back', version, reason });
  const skippedLines = await countSkippedLines(deps, input.skippedLines);
  const reports = await reportDistantCopies(deps, input);
  for (const report of reports) await deps.store.putDataQualityReport(report, deps.now());
  await deps.store.putRunOutcome(
    {
      runId: input.runId,
      startedAt: input.startedAt,
      recordedAt: deps.now(),
      views: outcomes,
      skippedLines,
      distantCopies: reports.map(distantCopiesSummary),
    },
    deps.now(),
  );
  const failed = outcomes.flatMap((outcome) =>
    outcome.status === 'failed' ? [{ view: outcome.view, step: outcome.step, error: outcome.error }] : [],
  );
  for (const outcome of outcomes)
    if (outcome.status === 'failed')
      deps.logger.error('batch view failed', { runId: input.runId, ...outcome });
  if (skippedLines.lines !== 0)
    deps.logger.warn('archive lines skipped as unreadable', { runId: input.runId, ...skippedLines });
  for (const report of reports)
    if (report.ids !== 0)
      deps.logger.warn('ids counted more than once: copies further apart than the dedupe horizon', {
        runId: input.runId,
        catalog: report.catalog,
        ids: report.ids,
        horizonDays: report.horizonDays,
        listed: report.listed.slice(0, 10),
      });
  // One query reports on every catalog: when it fails, every report holds the same error.
  const reportError = reports.find((report) => report.error !== null)?.error ?? null;
  await recordWatermarkAges(deps, input.views);
  const problems = [
    ...failed.map(({ view, step, error }) => `${view} failed in ${step} (${error})`),
    ...(input.unservable ?? []).map(({ view, reason }) => `${view} cannot be served: ${reason}`),
    ...(skippedLines.error === null ? [] : [`skipped lines not counted (${skippedLines.error})`]),
    ...(reportError === null ? [] : [`distant copies not listed (${reportError})`]),
  ];
  const incomplete =
    problems.length === 0
      ? null
      : truncated(
          `batch run ${input.runId}: ${problems.join('; ')}; its outcome has the causes`,
          CAUSE_CHARS,
        );
  deps.logger.info('batch run committed', { runId: input.runId, committed, failed });
  return { runId: input.runId, committed, failed, incomplete };
}

async function commitView(
  deps: BatchDeps,
  input: CommitInput,
  viewPlan: ViewPlan,
  previous: Manifest | null,
  deadline: number,
): Promise<{ view: CommittedView; progress: BackfillProgress }> {
  const progress = await deps.store.getProgress(viewPlan.view, viewPlan.version);
  if (progress?.runId !== input.runId)
    throw new ProgressTakenOverError(
      `${viewPlan.view} v${viewPlan.version}: run ${progress?.runId ?? '(none)'} took over its recompute`,
    );
  const days: Record<string, string> = viewPlan.backfill
    ? { ...progress.days }
    : { ...previous?.days, ...progress.days };
  const drafted: Manifest = {
    view: viewPlan.view,
    version: viewPlan.version,
    revision: viewPlan.expectedRevision + 1,
    watermark: viewPlan.watermark,
    days,
    lastRunId: input.runId,
    // A resumed backfill reloaded the days changed since it began: exact as of this run's start.
    lastRunStartedAt: input.startedAt,
    committedAt: deps.now(),
    definitionHash: definitionHash(viewNamed(deps, viewPlan.view)),
  };
  // A retried step gets its first attempt's commit time back: records, history, ledger and manifest agree.
  const { manifest: provenanced, replaceUncommitted } = await recordProvenance(
    deps,
    input.runId,
    viewPlan,
    drafted,
    progress,
  );
  const next: Manifest = {
    ...provenanced,
    ...switchOf(previous, viewPlan.version, provenanced.committedAt),
  };
  // What readers were served until this write, kept for a rollback (a retry finds it written).
  if (previous !== null && previous.revision === viewPlan.expectedRevision)
    await deps.store.manifestHistory.put(previous, next.committedAt);
  // The ledger's header before the write: a crash after it leaves one for clean-up to go on from.
  await beginCommitRecording(deps, previous, next, viewPlan.backfill);
  let committed = next;
  try {
    await deps.store.commitManifest(next, viewPlan.expectedRevision);
  } catch (error) {
    // A retried commit step finds its own earlier write: committed, not lost to another run.
    const ours = (manifest: Manifest | null): manifest is Manifest =>
      manifest?.lastRunId === input.runId && manifest.revision === next.revision;
    const stored = await deps.store.getManifest(viewPlan.view);
    if (!(error instanceof ManifestConflictError) || !ours(stored)) throw error;
    committed = stored;
  }
  await replaceUncommitted(committed);
  await deps.store.completeProgress(viewPlan.view, viewPlan.version, input.runId, deps.now());
  // After the progress is complete: a step that dies diffing leaves no recompute looking unfinished.
  const restatements = await recordCommitRestatements(deps, committed, viewPlan, deadline);
  return {
    view: {
      view: viewPlan.view,
      watermark: viewPlan.watermark,
      previousWatermark: viewPlan.previousWatermark,
      revision: next.revision,
      restatements,
    },
    progress: backfillProgressOf(progress),
  };
}

/** Each view's served watermark's age, as of this commit step (alarmed past half the speed retention). */
async function recordWatermarkAges(deps: BatchDeps, views: readonly ViewPlan[]): Promise<void> {
  const now = deps.now();
  for (const { view } of views) {
    // The watermark alone, not the gzipped manifest.
    const manifest = await deps.store.manifestExactness(view);
    if (manifest === null) continue;
    const metric = deps.metrics.singleMetric();
    metric.addDimension(BATCH_METRICS.servedWatermarkAge.dimensions[0] as string, view);
    metric.addMetric(
      BATCH_METRICS.servedWatermarkAge.name,
      MetricUnit.Milliseconds,
      now - manifest.watermark,
    );
  }
}

/** Reads a finished query's results, or says why there are none: its state failed, or the reading did. */
async function readQuery<T>(
  run: QueryRun,
  what: string,
  read: (queryId: string) => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  const failed = (error: string) => ({ ok: false as const, error: truncated(error, CAUSE_CHARS) });
  if (run.query === undefined)
    return failed(
      run.failure === undefined
        ? `the ${what} query did not run`
        : `${run.failure.Error ?? 'Error'}: ${run.failure.Cause ?? ''}`,
    );
  try {
    return { ok: true, value: await read(run.query.QueryExecutionId) };
  } catch (error) {
    return failed(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  }
}

async function countSkippedLines(deps: BatchDeps, count: CommitInput['skippedLines']): Promise<SkippedLines> {
  const read = await readQuery(count, 'count', (queryId) => readSkippedLines(deps.engine, queryId));
  return read.ok ? read.value : { lines: null, objects: null, byObject: [], error: read.error };
}

/** The run's data-quality report of each catalog its views read, from the one query over them all. */
async function reportDistantCopies(deps: BatchDeps, input: CommitInput): Promise<DataQualityReport[]> {
  const read = await readQuery(input.distantCopies, 'distant-copies', (queryId) =>
    readDistantCopies(deps.engine, queryId),
  );
  const recordedAt = deps.now();
  return input.distantCopies.catalogs.map(({ catalog, horizonDays, dayRanges }) => ({
    runId: input.runId,
    catalog,
    startedAt: input.startedAt,
    recordedAt,
    horizonDays,
    dayRanges,
    ...(read.ok
      ? // The query lists no row for a catalog without distant copies.
        { ...(read.value.get(catalog) ?? { ids: 0, listed: [] }), error: null }
      : { ids: null, listed: [], error: read.error }),
  }));
}
