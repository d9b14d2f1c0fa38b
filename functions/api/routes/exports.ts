/** Exports: a view's exact rows over a range below the watermark, unloaded as files to download. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { DynamoBatchStore, Restatement } from '../../adapters/dynamo-batch-store';
import { activeDays } from '../../adapters/dynamo-batch-store';
import type { ExportCompletion, ExportJob, ExportStatus } from '../../adapters/exports';
import { compileExportSql, daysBetween, dedupeReadRanges, definitionHash } from '../../core';
import { consecutiveDayRanges } from '../../core/days';
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
        const { view, manifest } = await reader.served(viewNamed(deps, body.view));
        const range = stepRange(body, view.time.bucket);
        const watermark = servedWatermark(manifest);
        if (manifest === null || !isExactRange(range, watermark))
          throw badParameter(
            'to',
            `exports are exact: to must be at or before the watermark (${watermark}, ` +
              `${manifest === null ? 'no batch run yet' : new Date(watermark).toISOString()})`,
          );
        const id = randomUUID();
        // What it is taken against, read before it starts: the archive it reads can only have grown since.
        const readRanges = dedupeReadRanges(
          consecutiveDayRanges(daysBetween(range.from, range.to)),
          view.events.dedupeHorizonDays,
        );
        const archive = await deps.batchStore.provenance.archiveReceived(readRanges);
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
            definitionHash: definitionHash(view),
            groupBy: [...view.groupBy],
            measures: Object.keys(view.measures),
            manifestRevision: manifest.revision,
            batchVersions: Object.fromEntries(activeDays(manifest, range.from, range.to)),
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
        const completion = kept ?? (status.state === 'SUCCEEDED' ? await complete(deps, job, status) : null);
        const files = completion?.files.map(({ file }) => file) ?? status.files;
        const downloads = await Promise.all(files.map((file) => deps.exports.downloadUrl(file)));
        const { engineRef: _engineRef, provenance = null, ...described } = job;
        return json({
          ...described,
          status: status.state,
          rows: completion?.rows ?? status.rows,
          downloads,
          error: status.error,
          provenance,
          completed: completion,
          restated,
        });
      },
  }),
];

/**
 * Records a finished export's completion the first time it is seen finished: its files' sha256, read
 * whole. Conditionally: whoever records first is kept, and the record never changes after.
 */
async function complete(deps: ApiDeps, job: ExportJob, status: ExportStatus): Promise<ExportCompletion> {
  const files = await Promise.all(
    status.files.map(async (file) => ({ file, ...(await deps.exports.hashFile(file)) })),
  );
  return deps.exportJobs.complete(job.id, { completedAt: deps.now(), rows: status.rows, files });
}

/** At most this many restatements are listed in an export's answer; the ledger's route lists the rest. */
export const EXPORT_RESTATEMENTS_LISTED = 20;
/** Restatements counted for one export at most: the count says so when it stops there. */
export const EXPORT_RESTATEMENTS_COUNTED = 10_000;

/**
 * The ledger's entries recorded since the export was taken whose bucket lies in its range and whose
 * measure is one of its columns (an export holds every group): its numbers that are no longer the exact ones.
 */
async function restatedSince(store: DynamoBatchStore, job: ExportJob) {
  const measures = job.provenance === undefined ? null : new Set(job.provenance.measures);
  const listed: Restatement[] = [];
  let count = 0;
  let cursor: string | undefined;
  do {
    const page = await store.restatements.list(job.view, job.createdAt, {
      from: job.from,
      to: job.to,
      limit: 1_000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const restatement of page.restatements) {
      if (measures !== null && !measures.has(restatement.measure)) continue;
      count++;
      if (listed.length < EXPORT_RESTATEMENTS_LISTED) listed.push(restatement);
    }
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined && count < EXPORT_RESTATEMENTS_COUNTED);
  return { since: job.createdAt, count, countStopped: cursor !== undefined, restatements: listed };
}
