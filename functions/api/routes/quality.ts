/** The data's quality: the batch layer's drift and duplicate reports, the records the speed layer refused. */
import {
  MAX_DATA_QUALITY_REPORTS,
  MAX_DRIFT_REPORTS,
  MAX_QUARANTINE_DATA_CHARS,
  MAX_QUARANTINE_LISTED,
} from '../limits';
import { limitQuery } from '../query';
import { answer, json, route } from '../route';

export const qualityRoutes = [
  route({
    method: 'GET',
    path: '/drift',
    summary: 'Latest reconciliation reports',
    query: { limit: limitQuery(5, MAX_DRIFT_REPORTS) },
    responses: { '200': answer('Drift') },
    handler:
      ({ deps }) =>
      async ({ query: { limit } }) => {
        const views = await Promise.all(
          deps.views.map(async (view) => ({
            view: view.name,
            reports: await deps.batchStore.latestDriftReports(view.name, limit),
          })),
        );
        return json({ views });
      },
  }),
  route({
    method: 'GET',
    path: '/data-quality',
    summary: 'Latest data-quality reports: ids counted more than once, with their days',
    description:
      'Copies of an id at most the catalog’s dedupe horizon apart count once; copies further apart ' +
      'count once each, by design, and each run lists the ids its days count again.',
    query: { limit: limitQuery(5, MAX_DATA_QUALITY_REPORTS) },
    responses: { '200': answer('DataQuality') },
    handler:
      ({ deps }) =>
      async ({ query: { limit } }) => {
        // The catalog the batch plan reports on: its first view's (functions/batch/plan.ts).
        const catalog = deps.views[0]?.events.name ?? (deps.catalogs.names[0] as string);
        const reports = await deps.batchStore.latestDataQualityReports(catalog, limit);
        return json({ catalog, reports });
      },
  }),
  route({
    method: 'GET',
    path: '/quarantine',
    summary: 'Records the speed layer refused, newest first, with why',
    query: { limit: limitQuery(MAX_QUARANTINE_LISTED / 10, MAX_QUARANTINE_LISTED) },
    responses: { '200': answer('Quarantine') },
    handler:
      ({ deps }) =>
      async ({ query: { limit } }) => {
        const { total, records } = await deps.quarantine.recent(limit);
        // A record may be 1 MiB: each answer carries at most its first few KB, so 500 fit in 6 MB.
        return json({
          total,
          records: records.map((record) => ({
            ...record,
            data: record.data.slice(0, MAX_QUARANTINE_DATA_CHARS),
            dataBytes: Buffer.byteLength(record.data, 'base64'),
            dataTruncated: record.data.length > MAX_QUARANTINE_DATA_CHARS,
          })),
        });
      },
  }),
];
