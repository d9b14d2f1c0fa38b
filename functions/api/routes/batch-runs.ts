/** Batch runs: started on demand, and described with what each view became. */
import { z } from 'zod';
import { distantCopiesPerCatalog } from '../../adapters/batch-store/data-quality';
import { newRunId } from '../../batch/plan';
import { RUN_ID } from '../../core/keys';
import { servedWatermark } from '../../core/watermark';
import { notFound } from '../params';
import type { RequestSchemas } from '../request-schemas';
import { answer, json, route } from '../route';

const noBatchRun = (id: unknown) => `no batch run ${JSON.stringify(id)}`;

export const batchRunRoutes = (schemas: RequestSchemas) => [
  route({
    method: 'POST',
    path: '/batch-runs',
    summary: 'Start a batch run now',
    body: schemas.BatchRunStart,
    responses: { '202': answer('Created', 'Started.') },
    handler:
      ({ deps }) =>
      async ({ body }) => {
        const id = newRunId(deps.now());
        const backfill = body?.backfill;
        await deps.batchRuns.start({ runId: id, ...(backfill === undefined ? {} : { backfill }) });
        return json({ id }, 202);
      },
  }),
  route({
    method: 'GET',
    path: '/batch-runs/:id',
    summary: 'A batch run: status, watermarks, drift',
    params: { id: z.string().regex(RUN_ID, { error: (issue) => noBatchRun(issue.input) }) },
    responses: { '200': answer('BatchRun') },
    handler:
      ({ deps, reader }) =>
      async ({ params: { id } }) => {
        const run = await deps.batchRuns.describe(id);
        if (run === null) throw notFound('id', noBatchRun(id));
        // Recorded by the run's commit: what became of each view, the archive lines it skipped and the
        // ids it counted more than once.
        const outcome = await deps.batchStore.runOutcome(id);
        const views = await Promise.all(
          deps.views.map(async (view) => {
            const { manifest } = await reader.served(view);
            const viewOutcome = outcome?.views.find((entry) => entry.view === view.name) ?? null;
            // A run that failed one view still reconciled the views it committed.
            const reconciled = run.status === 'SUCCEEDED' || viewOutcome?.status === 'committed';
            const drift = reconciled ? await deps.batchStore.driftReport(view.name, id) : null;
            // While the run loads, how far it has come (a backfill may take many loads).
            const live =
              run.status === 'RUNNING' ? await deps.batchStore.viewProgress(view.name, view.version) : null;
            return {
              view: view.name,
              watermark: servedWatermark(manifest),
              committedByThisRun: manifest?.lastRunId === id,
              outcome: viewOutcome,
              progress:
                live === null || live.runId !== id
                  ? null
                  : {
                      version: live.version,
                      daysDone: live.daysDone,
                      daysTotal: live.daysTotal,
                      loadedThrough: live.loadedThrough,
                      startedAt: live.startedAt,
                    },
              drift,
            };
          }),
        );
        return json({
          ...run,
          views,
          skippedLines: outcome?.skippedLines ?? null,
          // Outcomes recorded before the report existed have none.
          distantCopies:
            outcome?.distantCopies === undefined
              ? null
              : distantCopiesPerCatalog(
                  outcome.distantCopies,
                  deps.views[0]?.events.name ?? (deps.catalogs.names[0] as string),
                ),
        });
      },
  }),
];
