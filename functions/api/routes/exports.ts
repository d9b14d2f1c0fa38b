/** Exports: a view's exact rows over a range below the watermark, unloaded as files to download. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { DynamoBatchStore, Restatement, ServedRun } from '../../adapters/dynamo-batch-store';
import { activeDays } from '../../adapters/dynamo-batch-store';
import {
  batchVersionRanges,
  EXPORT_VERSION_RANGES,
  type ExportCompletion,
  type ExportJob,
  type ExportStatus,
} from '../../adapters/exports';
import { compileExportSql, dayOf, daysBetween, dedupeReadRanges } from '../../core';
import { consecutiveDayRanges, type DayRange, dayRangesByVersion } from '../../core/days';
import { isExactRange, servedWatermark } from '../../core/watermark';
import type { ApiDeps } from '../deps';
import { badParameter, notFound } from '../params';
import { stepRange } from '../query';
import type { RequestSchemas } from '../request-schemas';
import { answer, json, route, viewNamed } from '../route';

const noExport = (id: unknown) => `no export ${JSON.stringify(id)}`;

export const exportRoutes = (schemas: RequestSchemas) => [
  route({
    method: 'POST',
    path: '/exports',
    summary: 'Start an exact export (to at or before the watermark)',
    body: schemas.ExportStart,
    responses: { '202': answer('Created', 'Started.') },
    handler:
      ({ deps, reader }) =>
      async ({ body }) => {
        // The version the manifest serves: its batch rows are what an export unloads.
        const { view, manifest, definitionHash } = await reader.served(viewNamed(deps, body.view));
        const range = stepRange(body, view.time.bucket);
        const watermark = servedWatermark(manifest);
        if (manifest === null || !isExactRange(range, watermark))
          throw badParameter(
            'to',
            `exports are exact: to must be at or before the watermark (${watermark}, ` +
              `${manifest === null ? 'no batch run yet' : new Date(watermark).toISOString()})`,
          );
        const id = randomUUID();
        // Checked before the query starts: a job too long to record must not leave a query running.
        const batchVersions = versionRanges(activeDays(manifest, range.from, range.to));
        // What it is taken against, read before it starts: the archive it reads can only have grown since.
        const readRanges = dedupeReadRanges(
          consecutiveDayRanges(daysBetween(range.from, range.to)),
          view.events.dedupeHorizonDays,
        );
        const archive = await deps.batchStore.provenance.archiveReceived(view.events.name, readRanges);
        const engineRef = await deps.exports.start(
          id,
          compileExportSql(view, range.from, range.to),
          body.format,
        );
        const job: ExportJob = {
          id,
          view: view.name,
          version: view.version,
          ...range,
          format: body.format,
          createdAt: deps.now(),
          watermark,
          batchRunId: manifest.lastRunId,
          engineRef,
          provenance: {
            // The hash registered with the version served, not one taken over today's catalog.
            definitionHash: definitionHash ?? '',
            groupBy: [...view.groupBy],
            measures: Object.keys(view.measures),
            manifestRevision: manifest.revision,
            manifestCommittedAt: manifest.committedAt,
            batchVersions,
            archive: { ...archive, dayRanges: readRanges },
          },
        };
        await deps.exportJobs.put(job);
        return json({ id }, 202);
      },
  }),
  route({
    method: 'GET',
    path: '/exports/:id',
    summary: 'An export: status, rows, download links',
    params: { id: z.string().regex(/^[0-9a-f-]{36}$/, { error: (issue) => noExport(issue.input) }) },
    responses: { '200': answer('Export') },
    handler:
      ({ deps }) =>
      async ({ params: { id } }) => {
        const job = await deps.exportJobs.get(id);
        if (job === null) throw notFound('id', noExport(id));
        const [kept, restated] = await Promise.all([
          deps.exportJobs.completion(id),
          restatedSince(deps.batchStore, job),
        ]);
        // A completed export's files are those recorded: the engine is asked only for rows it did not know yet.
        const status: ExportStatus =
          kept !== null && kept.rows !== null
            ? { state: 'SUCCEEDED', rows: kept.rows, files: [], error: null }
            : await deps.exports.status(job);
        const completing =
          kept === null && status.state === 'SUCCEEDED' ? await complete(deps, job, status) : null;
        const completion = kept ?? completing?.completion ?? null;
        const files = completion?.files.map(({ file }) => file) ?? status.files;
        const downloads = await Promise.all(files.map((file) => deps.exports.downloadUrl(file)));
        const { engineRef: _engineRef, provenance: taken, ...described } = job;
        const provenance =
          taken === undefined ? null : { ...taken, batchVersions: batchVersionRanges(taken.batchVersions) };
        return json({
          ...described,
          status: status.state,
          rows: completion?.rows ?? status.rows,
          downloads,
          error: status.error,
          provenance,
          completed: completion,
          filesHashed: completion === null ? (completing?.filesHashed ?? null) : null,
          restated,
        });
      },
  }),
];

/**
 * Records a finished export's completion once every file it wrote has the sha256 the export hasher
 * recorded as the file was written; null until then. Nothing is hashed here (a GET has 29 s; an export
 * can be many GB). Conditionally: whoever records first is kept, and the record never changes after.
 * A file outside the exports prefix (a CSV written before exports had their own work group) is never
 * hashed: its export answers, downloads included, and never completes (`filesHashed.notHashable`).
 */
async function complete(
  deps: ApiDeps,
  job: ExportJob,
  status: ExportStatus,
): Promise<{
  completion: ExportCompletion | null;
  filesHashed: { hashed: number; of: number; notHashable: number };
}> {
  const keys = status.files.map((file) => deps.exports.objectKeyOf(file));
  const hashable = keys.filter((key) => key !== null);
  const hashes = await deps.exportJobs.fileHashes(hashable);
  const files = status.files.flatMap((file, index) => {
    const key = keys[index];
    const hash = key === null || key === undefined ? undefined : hashes.get(key);
    return hash === undefined ? [] : [{ file, ...hash }];
  });
  const filesHashed = {
    hashed: files.length,
    of: status.files.length,
    notHashable: keys.length - hashable.length,
  };
  if (files.length < status.files.length) return { completion: null, filesHashed };
  const completion = await deps.exportJobs.complete(job.id, {
    completedAt: deps.now(),
    rows: status.rows,
    files,
  });
  return { completion, filesHashed };
}

/** Each batch version's ranges of consecutive days; a 400 when there are more than a job can record. */
function versionRanges(days: readonly [day: string, batchVersion: string][]): Record<string, DayRange[]> {
  const ranges = dayRangesByVersion(days);
  const count = Object.values(ranges).reduce((sum, dayRanges) => sum + dayRanges.length, 0);
  if (count > EXPORT_VERSION_RANGES)
    throw badParameter(
      'to',
      `the range's days are served from ${count} ranges of batch versions, more than an export records ` +
        `(${EXPORT_VERSION_RANGES}): export a shorter range`,
    );
  return ranges;
}

/** At most this many restatements are listed in an export's answer; the ledger's route lists the rest. */
export const EXPORT_RESTATEMENTS_LISTED = 20;
/** Restatements counted for one export at most: the count says so when it stops there. */
export const EXPORT_RESTATEMENTS_COUNTED = 10_000;
/**
 * Ledger pages one answer reads at most (each at most MAX_LEDGER_ITEMS_READ items of the export's days and
 * MAX_LEDGER_HEADERS_READ headers): the count stops there.
 */
export const EXPORT_LEDGER_PAGES = 4;
/**
 * How far before its manifest revision's commit time the ledger is read: a later revision's commit time
 * comes from another function's clock, which may be a little behind.
 */
export const LEDGER_CLOCK_SKEW_MS = 60_000;

/**
 * What of the export is no longer exact. From the restatement ledger: the entries of manifest revisions
 * after the one it was taken against whose bucket lies in its range and whose measure is one of its
 * columns (it holds every group); the changes whose entries are still being recorded (or never will be)
 * and may cover it; and the changes that moved the watermark back over its range (a rollback): those
 * buckets are no longer exact at all. The ledger pages read only the export's days of each change; the
 * count is bounded per answer and says where it stopped.
 */
async function restatedSince(store: DynamoBatchStore, job: ExportJob) {
  const taken = job.provenance;
  // An export from before its revision was recorded: what was committed after it was asked for.
  const sinceRevision = taken?.manifestRevision ?? null;
  const since = (taken?.manifestCommittedAt ?? job.createdAt) - LEDGER_CLOCK_SKEW_MS;
  const after = (revision: number) => (sinceRevision === null ? true : revision > sinceRevision);
  const measures = taken === undefined ? null : new Set(taken.measures);
  const listed: Restatement[] = [];
  // Per (bucket, group, measure): the value the export holds (the first entry's old) and the latest.
  const values = new Map<string, { exported: Restatement['old']; now: Restatement['new'] }>();
  // The changes after the export the pages went through (a page goes on in the header the last stopped in).
  const runs = new Map<string, ServedRun>();
  let count = 0;
  let cursor: string | null = null;
  for (let page = 0; page < EXPORT_LEDGER_PAGES && count < EXPORT_RESTATEMENTS_COUNTED; page++) {
    const read = await store.restatements.list(job.view, since, {
      from: job.from,
      to: job.to,
      limit: EXPORT_RESTATEMENTS_COUNTED - count,
      ...(cursor === null ? {} : { cursor }),
    });
    for (const served of read.runs)
      if (after(served.run.revision) && (sinceRevision !== null || served.run.at >= job.createdAt))
        runs.set(`${served.run.at}#${served.run.runId}`, served);
    for (const restatement of read.restatements) {
      if (!after(restatement.revision) || (sinceRevision === null && restatement.at < job.createdAt))
        continue;
      if (measures !== null && !measures.has(restatement.measure)) continue;
      count++;
      if (listed.length < EXPORT_RESTATEMENTS_LISTED) listed.push(restatement);
      const key = JSON.stringify([restatement.bucket, restatement.group, restatement.measure]);
      const value = values.get(key);
      if (value === undefined) values.set(key, { exported: restatement.old, now: restatement.new });
      else value.now = restatement.new;
    }
    cursor = read.cursor;
    if (cursor === null) break;
  }
  const lastDay = dayOf(job.to - 1);
  const unfinished = [...runs.values()].filter(({ run }) => !run.complete && run.throughDay < lastDay);
  const incomplete = unfinished.flatMap(({ run: { runId, revision, at, throughDay }, abandoned }) =>
    abandoned === null ? [{ runId, revision, at, throughDay }] : [],
  );
  const abandoned = unfinished.flatMap(({ run: { runId, revision, at, throughDay }, abandoned: reason }) =>
    reason === null ? [] : [{ runId, revision, at, throughDay, reason }],
  );
  const watermarkRetreats = [...runs.values()].flatMap(({ run: { runId, revision, at, watermark } }) => {
    const from = Math.max(watermark.after, job.from);
    const to = Math.min(watermark.before, job.to);
    return from < to ? [{ runId, revision, at, from, to }] : [];
  });
  return {
    sinceRevision,
    since,
    count,
    valuesChanged: [...values.values()].filter(({ exported, now }) => exported !== now).length,
    countStopped: cursor !== null,
    cursor,
    restatements: listed,
    incomplete,
    abandoned,
    watermarkRetreats,
  };
}
