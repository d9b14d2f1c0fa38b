/** The restatement ledger of a view, and rolling its manifest back. */
import { z } from 'zod';
import { decodeCursor } from '../../adapters/batch-store/restatements';
import { ManifestConflictError } from '../../adapters/dynamo-batch-store';
import { RollbackRefusedError, rollback } from '../../batch/rollback';
import { MAX_RESTATEMENTS_PAGE } from '../limits';
import { badParameter, notFound } from '../params';
import { limitQuery } from '../query';
import { type RequestSchemas, timeQuery, type ViewNameSchema } from '../request-schemas';
import { answer, json, route } from '../route';

/** What `since` is when not given: the last week (the CLI leaves it to this). */
const DEFAULT_SINCE_MS = 7 * 86_400_000;

/** Rollbacks a listing names at most (the latest): a person's action, far fewer in any window. */
const ROLLBACKS_LISTED = 100;

const cursorQuery = z
  .string()
  .refine(
    (cursor) => {
      try {
        decodeCursor(cursor);
        return true;
      } catch {
        return false;
      }
    },
    { error: 'not a cursor this API gave: pass the `cursor` of the previous page' },
  )
  .optional()
  .meta({ description: 'Where the page starts: the `cursor` of the previous page.' });

export const ledgerRoutes = (viewName: ViewNameSchema, schemas: RequestSchemas) => [
  route({
    method: 'GET',
    path: '/views/:name/restatements',
    summary: "Exact values a view's commits and rollbacks changed",
    description:
      'Each (bucket, group, measure) whose exact value a committed run or a rollback changed: old and new value, run, manifest revision, batch versions and cause (`late-events`, `definition-change`, `backfill`, `rollback`), in the order they were recorded. A page reads a bounded part of the ledger (a few hundred changes, and of each only the days `from` and `to` cover) and gives a `cursor` where it stopped. Of the changes the page went through, `incomplete` names those still being recorded, `abandoned` those whose recording never will complete, and `rollbacks` the rollbacks, with their watermark move.',
    params: { name: viewName },
    query: {
      since: timeQuery('Changes recorded at or after this time; the last 7 days unless given.').optional(),
      from: timeQuery('Only buckets from this time (inclusive).').optional(),
      to: timeQuery('Only buckets before this time (exclusive).').optional(),
      limit: limitQuery(100, MAX_RESTATEMENTS_PAGE),
      cursor: cursorQuery,
    },
    responses: { '200': answer('Restatements') },
    handler:
      ({ deps }) =>
      async ({ params, query }) => {
        const { from, to, limit, cursor } = query;
        if (from !== undefined && to !== undefined && from >= to)
          throw badParameter('to', `must be after from (${from} >= ${to})`);
        const since = query.since ?? deps.now() - DEFAULT_SINCE_MS;
        const {
          restatements,
          cursor: next,
          runs,
        } = await deps.batchStore.restatements.list(params.name, since, {
          limit,
          ...(cursor === undefined ? {} : { cursor }),
          ...(from === undefined ? {} : { from }),
          ...(to === undefined ? {} : { to }),
        });
        return json({
          view: params.name,
          since,
          restatements,
          cursor: next,
          incomplete: runs.flatMap(({ run: { runId, revision, throughDay, complete }, abandoned }) =>
            complete || abandoned !== null ? [] : [{ runId, revision, throughDay }],
          ),
          abandoned: runs.flatMap(({ run: { runId, revision, throughDay }, abandoned }) =>
            abandoned === null ? [] : [{ runId, revision, throughDay, reason: abandoned }],
          ),
          rollbacks: runs
            .flatMap(({ run }) => (run.cause === 'rollback' ? [run] : []))
            .slice(-ROLLBACKS_LISTED),
        });
      },
  }),
  route({
    method: 'POST',
    path: '/views/:name/rollback',
    summary: "Point a view's manifest back to a version it replaced",
    description:
      'One conditional write on the revision read: readers go from one whole version to the other. The target is the previous manifest, or the latest one the batch version `to` committed, replaced within the rollback retention.',
    params: { name: viewName },
    body: schemas.Rollback,
    responses: {
      '200': answer('Rollback'),
      '404': answer('Error', 'No such version kept to roll back to (the message says why).'),
      '409': answer(
        'Error',
        'The manifest moved past the revision read (`details.revision` is where it is), or the version named cannot be served again: its day versions or its view definition are gone (the message says which).',
      ),
    },
    handler:
      ({ deps }) =>
      async ({ params, body }) => {
        try {
          const result = await rollback(
            {
              store: deps.batchStore,
              views: deps.views,
              rollbackRetentionMs: deps.rollbackRetentionMs,
              definitionSwitchMarginMs: deps.definitionSwitchMarginMs,
              logger: deps.logger,
              now: deps.now,
            },
            params.name,
            {
              ...(body?.to === undefined ? {} : { to: body.to }),
              ...(body?.expectedRevision === undefined ? {} : { expectedRevision: body.expectedRevision }),
            },
          );
          return json(result);
        } catch (error) {
          const parameter = body?.to === undefined ? 'name' : 'to';
          if (error instanceof RollbackRefusedError && error.reason === 'unservable')
            return json(
              { statusCode: 409, error: 'ConflictError', message: error.message, details: { parameter } },
              409,
            );
          if (error instanceof RollbackRefusedError) throw notFound(parameter, error.message);
          if (error instanceof ManifestConflictError) {
            const revision = (await deps.batchStore.getManifest(params.name))?.revision ?? null;
            // A race with a write the client did not name a revision for: no field of its request was wrong.
            const sent = body?.expectedRevision !== undefined;
            return json(
              {
                statusCode: 409,
                error: 'ConflictError',
                message: `${error.message}; the manifest is at revision ${revision}: read it again and retry`,
                details: { ...(sent ? { parameter: 'expectedRevision' } : {}), revision },
              },
              409,
            );
          }
          throw error;
        }
      },
  }),
];
