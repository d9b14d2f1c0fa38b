/** The views: their list with freshness, a view over time, its top groups. */
import { z } from 'zod';
import {
  BUCKET_WIDTH_MS,
  definitionSwitchFrom,
  distinctMeasureNames,
  distinctStepRefusal,
  hasDistinctMeasure,
  isStepOf,
  omittedFromTop,
  relativeStandardError,
  SKETCH_ERROR_ABSOLUTE_SLACK,
  SKETCH_OVER_BOUND_SHARE,
  sketchRelativeErrorBound,
  topGroups,
  type ViewDefinition,
} from '../../core';
import { isBatchBucket, servedWatermark } from '../../core/watermark';
import type { ApiDeps } from '../deps';
import { LatenessReports } from '../lateness';
import { MAX_SERIES_BUCKETS, MAX_TOP_LIMIT } from '../limits';
import { badParameter } from '../params';
import { exactQuery, groupFilter, limitQuery, stepQuery, stepRange } from '../query';
import { timeQuery, type ViewNameSchema } from '../request-schemas';
import { answer, json, route, viewNamed } from '../route';
import { batchRunOf, SeriesAnswers } from '../series-answers';

const GROUP_FILTERS = 'Any other query parameter filters on a group field: `?country=US`.';

/** `measure`: which of the view's measures ranks the groups (the route knows the view's). */
const measureQuery = z
  .string({ error: 'is required: a measure of the view' })
  .meta({ description: 'The measure that ranks the groups.' });

/** A new view version backfilling while the manifest serves the previous one: how far it has come. */
async function pendingVersion(deps: ApiDeps, view: ViewDefinition, servedWatermark: number) {
  const store = deps.batchStore;
  const [definition, progress] = await Promise.all([
    store.definitions.get(view.name, view.version),
    store.viewProgress(view.name, view.version),
  ]);
  const countingSince = definition?.countingSince ?? null;
  return {
    version: view.version,
    countingSince,
    switchFrom: definitionSwitchFrom(countingSince, view.time.bucket, deps.definitionSwitchMarginMs),
    speedRetentionEndsAt: servedWatermark + deps.speedRetentionMs,
    backfill:
      progress === null || progress.committedAt !== null
        ? null
        : {
            daysDone: progress.daysDone,
            daysTotal: progress.daysTotal,
            loadedThrough: progress.loadedThrough,
            startedAt: progress.startedAt,
          },
  };
}

/** A view's distinct measures and the error their speed-layer estimates are stated within; null for none. */
function distinctSummary(view: ViewDefinition) {
  if (!hasDistinctMeasure(view)) return null;
  return {
    measures: distinctMeasureNames(view),
    precision: view.distinctPrecision,
    standardError: relativeStandardError(view.distinctPrecision),
    errorBound: sketchRelativeErrorBound(view.distinctPrecision),
    errorSlack: SKETCH_ERROR_ABSOLUTE_SLACK,
    overBoundShare: SKETCH_OVER_BOUND_SHARE,
  };
}

export const viewRoutes = (viewName: ViewNameSchema) => [
  route({
    method: 'GET',
    path: '/views',
    summary: 'Views, watermarks, freshness',
    responses: { '200': answer('Views') },
    handler: ({ deps, reader }) => {
      // Per function instance: the views' lateness windows are cached across requests.
      const lateness = new LatenessReports(deps);
      return async () => {
        const now = deps.now();
        const views = await Promise.all(
          deps.views.map(async (code) => {
            // The served version (the code's but while a new definition backfills) and the pending one.
            const { view, manifest, revision, problem } = await reader.served(code);
            const [latestSpeedBucket, pending, latenessReport] = await Promise.all([
              deps.speedStore.latestBucket(view, now),
              view.version === code.version ? null : pendingVersion(deps, code, servedWatermark(manifest)),
              lateness.of(view.name, now),
            ]);
            return {
              name: view.name,
              version: view.version,
              bucket: view.time.bucket,
              groupBy: [...view.groupBy],
              measures: Object.fromEntries(Object.entries(view.measures).map(([name, m]) => [name, m.kind])),
              distinct: distinctSummary(view),
              watermark: servedWatermark(manifest),
              // The stored manifest's even when it serves nothing (`servingProblem`): a rollback may be the fix.
              revision,
              batchRun: batchRunOf(manifest),
              pending,
              servingProblem: problem,
              speed: {
                latestBucket: latestSpeedBucket,
                lagMs: latestSpeedBucket === null ? null : now - latestSpeedBucket,
              },
              ...latenessReport,
            };
          }),
        );
        return json({ views });
      };
    },
  }),
  route({
    method: 'GET',
    path: '/views/:name/series',
    summary: 'A view over time, merged per watermark',
    description: GROUP_FILTERS,
    params: { name: viewName },
    query: {
      from: timeQuery('Start (inclusive), aligned down to the step.'),
      to: timeQuery('End (exclusive), aligned up to the step.'),
      step: stepQuery,
      exact: exactQuery,
    },
    responses: {
      '200': answer('Series'),
      '400': answer(
        'Error',
        'Bad input (`details.parameter` names it), or an answer that would pass the 6 MB an API answer ' +
          'can carry: narrow the range, coarsen the step, filter a group or ask `top`.',
      ),
    },
    handler: ({ deps, reader }) => {
      const series = new SeriesAnswers(reader, deps.now);
      return async ({ params, query, others, req }) => {
        const view = viewNamed(deps, params.name);
        const step = query.step ?? view.time.bucket;
        if (!isStepOf(view, step))
          throw badParameter('step', `${step} is finer than view ${view.name}'s ${view.time.bucket} buckets`);
        const refusal = distinctStepRefusal(view, step);
        if (refusal !== null) throw badParameter('step', refusal);
        const range = stepRange(query, step);
        const buckets = (range.to - range.from) / BUCKET_WIDTH_MS[step];
        if (buckets > MAX_SERIES_BUCKETS)
          throw badParameter('step', `${buckets} buckets of ${step}: at most ${MAX_SERIES_BUCKETS}`);
        const question = { view, step, range, exact: query.exact, filter: groupFilter(view, others) };
        return series.answer(question, /\bgzip\b/.test(req.headers.get('accept-encoding') ?? ''));
      };
    },
  }),
  route({
    method: 'GET',
    path: '/views/:name/top',
    summary: 'Top groups by a measure',
    description: GROUP_FILTERS,
    params: { name: viewName },
    query: {
      from: timeQuery("Start (inclusive), aligned down to the view's bucket."),
      to: timeQuery("End (exclusive), aligned up to the view's bucket."),
      measure: measureQuery,
      limit: limitQuery(10, MAX_TOP_LIMIT),
    },
    responses: {
      '200': answer('Top'),
      '400': answer(
        'Error',
        'Bad input (`details.parameter` names it), among it `measure` naming a distinct measure over more than one bucket.',
      ),
    },
    handler:
      ({ deps, reader }) =>
      async ({ params, query, others }) => {
        // The version the manifest serves: a new definition's measures are ranked once it switched.
        const { view, manifest } = await reader.served(viewNamed(deps, params.name));
        if (!Object.hasOwn(view.measures, query.measure))
          throw badParameter(
            'measure',
            `${JSON.stringify(query.measure)} is not a measure: one of ${Object.keys(view.measures).join(', ')}`,
          );
        const { from, to } = stepRange(query, view.time.bucket);
        // Over more than one bucket a distinct count is not the sum of the buckets': it is left out.
        const omitted = omittedFromTop(view, (to - from) / BUCKET_WIDTH_MS[view.time.bucket]);
        const byOmitted = omitted.find((omission) => omission.measure === query.measure);
        if (byOmitted !== undefined)
          throw badParameter('measure', `cannot rank by ${query.measure}: ${byOmitted.reason}`);
        const filter = groupFilter(view, others);
        const served = await reader.read(view, from, to, deps.now(), manifest);
        const { measure, limit } = query;
        const omit = omitted.map((omission) => omission.measure);
        const groups = topGroups(view, served.rows, { measure, limit, filter, omit });
        // One bucket of a view with a distinct measure: its distinct values are exact below W, else estimates.
        const distinct =
          omitted.length === 0 && hasDistinctMeasure(view)
            ? { distinct: isBatchBucket(from, served.watermark) ? 'exact' : 'sketch' }
            : {};
        return json({
          view: view.name,
          version: view.version,
          watermark: served.watermark,
          from,
          to,
          measure,
          groups,
          ...distinct,
          ...(omitted.length === 0 ? {} : { omitted }),
        });
      },
  }),
];
