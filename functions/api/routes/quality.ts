/** The data's quality: the batch layer's drift and duplicate reports, the records the speed layer refused. */
import { z } from 'zod';
import { EVENT_TYPE_FIELD, type EventCatalog, type EventCatalogs } from '../../core';
import {
  MAX_DATA_QUALITY_REPORTS,
  MAX_DRIFT_REPORTS,
  MAX_QUARANTINE_DATA_CHARS,
  MAX_QUARANTINE_LISTED,
} from '../limits';
import { badParameter } from '../params';
import { limitQuery } from '../query';
import { answer, json, route } from '../route';

/** Reports per catalog a `GET /data-quality` answers unless asked for another number. */
const DATA_QUALITY_REPORTS_PER_CATALOG = 5;

/** The catalog `type` names, or a 400 naming `type` with the known ones (as `POST /events` says it). */
function catalogNamed(catalogs: EventCatalogs, type: string): EventCatalog {
  const found = catalogs.catalogOf({ [EVENT_TYPE_FIELD]: type });
  if (!found.ok) throw badParameter('type', found.error.message);
  return found.catalog;
}

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
    summary: 'Latest data-quality reports per catalog: ids counted more than once, with their days',
    description:
      'Copies of an id at most the catalog’s dedupe horizon apart count once; copies further apart ' +
      'count once each, by design, and each run lists, per catalog its views read, the ids its days ' +
      `count again. At most ${MAX_DATA_QUALITY_REPORTS} reports per answer: \`limit\` per catalog ` +
      'times the catalogs answered.',
    query: {
      type: z
        .string()
        .optional()
        .meta({ description: 'One catalog (event type) only; every catalog of the stack when not given.' }),
      limit: limitQuery(DATA_QUALITY_REPORTS_PER_CATALOG, MAX_DATA_QUALITY_REPORTS)
        .removeDefault()
        .optional()
        .meta({
          description: `Reports per catalog; ${DATA_QUALITY_REPORTS_PER_CATALOG} unless given (fewer when that many over every catalog would pass ${MAX_DATA_QUALITY_REPORTS}).`,
        }),
    },
    responses: { '200': answer('DataQuality') },
    handler:
      ({ deps }) =>
      async ({ query: { type, limit } }) => {
        const answered = type === undefined ? deps.catalogs.all : [catalogNamed(deps.catalogs, type)];
        // Each report may be ~230 KB: the answer holds MAX_DATA_QUALITY_REPORTS at most, over all catalogs.
        const most = Math.floor(MAX_DATA_QUALITY_REPORTS / answered.length);
        if (most === 0 || (limit !== undefined && limit > most))
          throw badParameter(
            'limit',
            `at most ${MAX_DATA_QUALITY_REPORTS} reports per answer: ${most === 0 ? 'name a catalog with type' : `at most ${most} per catalog over the ${answered.length} catalogs, or name one with type`}`,
          );
        const perCatalog = limit ?? Math.min(DATA_QUALITY_REPORTS_PER_CATALOG, most);
        const catalogs = await Promise.all(
          answered.map(async (catalog) => ({
            catalog: catalog.name,
            horizonDays: catalog.dedupeHorizonDays,
            reports: await deps.batchStore.latestDataQualityReports(catalog.name, perCatalog),
          })),
        );
        return json({ catalogs });
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
