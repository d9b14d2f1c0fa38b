/** The batch layer's reports as the API answers them: a run, its drift and its data quality. */
import { z } from 'zod';
import { DISTANT_COPIES_LISTED, DISTANT_COPY_DAYS_LISTED } from '../core/dedupe';
import { epochMs } from './response-schemas';

/** A backfill's progress: the days of the new version loaded so far, resumed by the next run after a failure. */
const backfillProgress = z.object({
  version: z.number().int(),
  daysDone: z.number().int(),
  daysTotal: z.number().int(),
  loadedThrough: z
    .string()
    .meta({ description: 'The last day loaded (YYYY-MM-DD), or empty before the first.' }),
  startedAt: epochMs,
});

const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/)
  .meta({ description: 'A UTC day, YYYY-MM-DD.' });

/** Copies of an id further apart than the dedupe horizon count once each: listed, not fixed. */
const distantCopiesSummary = z
  .array(
    z.object({
      catalog: z.string().meta({ description: 'The event catalog (event type) whose table was read.' }),
      horizonDays: z.number().int().meta({ description: 'Copies at most this many days apart count once.' }),
      ids: z
        .number()
        .int()
        .nullable()
        .meta({ description: 'Ids counted more than once; null when the query failed.' }),
      listed: z
        .array(z.string())
        .meta({ description: `The first ${DISTANT_COPIES_LISTED} of those ids, by id.` }),
      error: z.string().nullable(),
    }),
  )
  .nullable()
  .meta({
    description:
      'Per catalog the views read, the ids the run counted more than once, their copies further apart than the catalog’s dedupe horizon (their days: GET /data-quality).',
  });

const dataQualityReport = z.object({
  runId: z.string(),
  catalog: z.string(),
  startedAt: epochMs,
  recordedAt: epochMs,
  horizonDays: z.number().int(),
  dayRanges: z
    .array(z.tuple([day, day]))
    .meta({ description: 'The days the run recomputed, as [first, last] ranges.' }),
  ids: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'Ids counted more than once on those days; null when the query failed.' }),
  listed: z
    .array(
      z.object({
        id: z.string(),
        days: z.array(day).meta({
          description: `The days holding a copy (the first ${DISTANT_COPY_DAYS_LISTED}), ascending.`,
        }),
        dayCount: z.number().int(),
      }),
    )
    .meta({ description: `The first ${DISTANT_COPIES_LISTED} of those ids, by id.` }),
  error: z.string().nullable(),
});

export const batchRunStatus = z.object({
  id: z.string(),
  status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED']),
  startedAt: epochMs,
  stoppedAt: epochMs.nullable(),
  error: z.string().nullable(),
  views: z.array(
    z.object({
      view: z.string(),
      watermark: epochMs,
      committedByThisRun: z.boolean(),
      outcome: z
        .union([
          z.object({
            view: z.string(),
            status: z.literal('committed'),
            watermark: epochMs,
            previousWatermark: epochMs.nullable(),
            revision: z.number().int(),
            days: z.number().int(),
            rows: z.number().int(),
            backfill: backfillProgress.nullable(),
            restatements: z.number().int().nullable().optional().meta({
              description: 'Exact values the commit restated (`GET /views/{name}/restatements` lists them).',
            }),
          }),
          z.object({
            view: z.string(),
            status: z.literal('backfilling'),
            days: z.number().int(),
            rows: z.number().int(),
            backfill: backfillProgress,
            awaitingSpeed: z
              .object({
                countingSince: epochMs.nullable(),
                switchFrom: epochMs.nullable(),
                watermark: epochMs
                  .optional()
                  .meta({ description: "This run's watermark, short of `switchFrom`." }),
                reason: z.string(),
              })
              .optional()
              .meta({
                description:
                  "Every day is loaded, but the new view version replaces the served one only once the watermark reaches the bucket boundary from which the speed layer counted it (plus the stage's switch margin): why the switch waits.",
              }),
          }),
          z.object({
            view: z.string(),
            status: z.literal('failed'),
            step: z.enum(['Query', 'Load', 'Commit']),
            error: z.string(),
            cause: z.string(),
            backfill: backfillProgress.nullable(),
          }),
          z.object({
            view: z.string(),
            status: z.literal('rolled-back'),
            version: z.number().int(),
            reason: z.string(),
          }),
        ])
        .nullable()
        .meta({
          description:
            'What the run did with the view, once its commit step ran: committed; still backfilling (the next run goes on, the manifest unchanged); failed in a step; or not recomputed because its version was rolled back.',
        }),
      progress: backfillProgress.nullable().meta({
        description: 'While the run is loading the view: its days loaded so far, of all it recomputes.',
      }),
      drift: z.unknown().meta({ description: 'The run’s drift report for the view, once reconciled.' }),
    }),
  ),
  skippedLines: z
    .object({
      lines: z.number().int().nullable(),
      objects: z.number().int().nullable(),
      byObject: z.array(z.object({ object: z.string(), lines: z.number().int() })),
      error: z.string().nullable(),
    })
    .nullable()
    .meta({
      description: 'Archive lines the run could not read (malformed JSON): skipped and counted, never fatal.',
    }),
  distantCopies: distantCopiesSummary,
});

/** A settled (bucket, group)'s distinct count: exact (batch) and estimated (speed). */
const sketchErrorRow = z.object({
  bucket: epochMs,
  group: z.array(z.string().nullable()),
  exact: z.string(),
  estimate: z.string(),
  relativeError: z.number(),
  overBound: z.boolean().meta({ description: 'Past the stated bound.' }),
});

/**
 * A drift report's `sketchError` (functions/batch/reconcile.ts): per distinct measure, the speed layer's
 * HyperLogLog estimates against the exact counts of the settled rows. The reports are otherwise open
 * (`z.unknown`); the CLI reads this part with it.
 */
export const sketchErrorReports = z
  .record(
    z.string(),
    z.object({
      precision: z.number().int(),
      errorBound: z.number().meta({ description: 'The stated bound, relative part: 4 standard errors.' }),
      errorSlack: z.number().int().meta({
        description: 'The stated bound, absolute part: an estimate may be this many values off.',
      }),
      rowsCompared: z.number().int(),
      rowsOverBound: z.number().int(),
      meanRelativeError: z.number(),
      largest: sketchErrorRow.nullable(),
      rows: z.array(sketchErrorRow).meta({
        description:
          'Past the bound first, then largest error first: at most 100 over the report’s distinct measures.',
      }),
    }),
  )
  .meta({ description: 'Per distinct measure: the sketch’s observed error against the exact counts.' });

export const drift = z.object({
  views: z.array(z.object({ view: z.string(), reports: z.array(z.unknown()) })),
});

export const dataQuality = z.object({
  catalogs: z
    .array(
      z.object({
        catalog: z.string().meta({ description: 'An event catalog (event type).' }),
        horizonDays: z
          .number()
          .int()
          .meta({ description: 'Its dedupe horizon as defined now (each report has the one it ran with).' }),
        reports: z.array(dataQualityReport).meta({
          description: 'The latest runs’ reports, newest first; none when no view reads the catalog.',
        }),
      }),
    )
    .meta({ description: 'Every catalog of the stack, or the one `type` names.' }),
});
