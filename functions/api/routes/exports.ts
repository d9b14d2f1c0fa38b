/** Exports: a view's exact rows over a range below the watermark, unloaded as files to download. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ExportJob } from '../../adapters/exports';
import { compileExportSql } from '../../core';
import { isExactRange, servedWatermark } from '../../core/watermark';
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
        const view = viewNamed(deps, body.view);
        const range = stepRange(body, view.time.bucket);
        const manifest = await reader.manifestOf(view);
        const watermark = servedWatermark(manifest);
        if (manifest === null || !isExactRange(range, watermark))
          throw badParameter(
            'to',
            `exports are exact: to must be at or before the watermark (${watermark}, ` +
              `${manifest === null ? 'no batch run yet' : new Date(watermark).toISOString()})`,
          );
        const id = randomUUID();
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
        const status = await deps.exports.status(job);
        const downloads = await Promise.all(status.files.map((file) => deps.exports.downloadUrl(file)));
        const { engineRef: _engineRef, ...described } = job;
        return json({
          ...described,
          status: status.state,
          rows: status.rows,
          downloads,
          error: status.error,
        });
      },
  }),
];
