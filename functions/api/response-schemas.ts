/** The API's answers as zod schemas, but for the batch layer's reports (batch-run-schemas.ts). */
import { z } from 'zod';

/** A measure value: a JSON number while a safe integer, else its exact decimal text; null for no input. */
const measureValue = z
  .union([z.number().int(), z.string().regex(/^-?\d+$/), z.null()])
  .meta({ description: 'An exact integer: a number up to 2^53 - 1 in size, a decimal string beyond.' });

export const epochMs = z.number().int().meta({ description: 'Epoch milliseconds (UTC).' });
const groupKey = z.record(z.string(), z.string().nullable());
const group = z.object({ key: groupKey, values: z.record(z.string(), measureValue) });
const batchRun = z.object({ id: z.string(), committedAt: epochMs }).nullable();
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

/** Where a batch version came from (functions/adapters/batch-store/provenance.ts). */
export const batchProvenance = z
  .object({
    view: z.string(),
    batchVersion: z.string(),
    runId: z
      .string()
      .meta({ description: 'The run that committed it (the loading run, but for a resumed backfill).' }),
    viewVersion: z.number().int(),
    definitionHash: z.string().meta({ description: 'sha256 of the view definition and its catalog rules.' }),
    watermark: epochMs,
    previousWatermark: epochMs.nullable(),
    revision: z.number().int().meta({ description: 'The manifest revision that first cited it.' }),
    committedAt: epochMs,
    days: z.object({
      count: z.number().int(),
      ranges: z
        .array(z.tuple([day, day]))
        .nullable()
        .meta({ description: 'Null past 100 ranges.' }),
    }),
    archive: z
      .object({
        objects: z.number().int(),
        bytes: z.number().int(),
        loads: z.number().int(),
      })
      .meta({ description: 'Archive objects and bytes its loads read, as the archive marker counted them.' }),
  })
  .meta({ description: 'Where a batch version came from.' });

export const error = z.object({
  statusCode: z.number().int(),
  error: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});

/** How late the view's events arrived, as the speed layer recorded them (functions/core/lateness.ts). */
const viewLateness = z
  .object({
    windowDays: z.number().int().meta({ description: 'The days of arrivals these figures cover.' }),
    events: z.number().int().meta({ description: 'Events the view counted, by arrival in the window.' }),
    p50Ms: z.number().int().nullable(),
    p99Ms: z.number().int().nullable(),
    p999Ms: z.number().int().nullable(),
    lateAfterExact: z.number().int().meta({
      description:
        'Events that arrived after their bucket was already exact (below W): restated by the next run.',
    }),
    lateAfterExactShare: z.number().min(0).max(1),
  })
  .meta({
    description:
      'Arrival time minus event time. Quantiles are histogram bin edges (an upper bound: at least that share arrived sooner); null with no events, or past 7 days.',
  });

/** The settle time the watermark trails by: the stage's fixed one, or the one learned now (`auto`). */
const viewSettle = z.object({ mode: z.enum(['fixed', 'auto']), ms: z.number().int() });

const viewSummary = z.object({
  name: z.string(),
  version: z.number().int(),
  bucket: z.enum(['minute', 'hour', 'day']),
  groupBy: z.array(z.string()),
  measures: z.record(z.string(), z.enum(['count', 'sum', 'min', 'max', 'countDistinct'])),
  distinct: z
    .object({
      measures: z.array(z.string()).meta({ description: 'The distinct measures (countDistinct).' }),
      precision: z.number().int().meta({ description: 'HyperLogLog precision p: 2^p registers.' }),
      standardError: z
        .number()
        .meta({ description: 'Relative standard error of an estimate: 1.04 / sqrt(2^p).' }),
      errorBound: z.number().meta({
        description:
          'The stated bound, relative part (4 standard errors): an estimate lies within the larger of `errorBound` × the exact count and `errorSlack` of it, but for about `overBoundShare` of buckets or fewer; the drift report counts buckets past it.',
      }),
      errorSlack: z.number().int().meta({
        description:
          'The stated bound, absolute part: how many values an estimate of a small set may be off (a register collision among a few values).',
      }),
      overBoundShare: z.number().meta({
        description:
          'The share of buckets whose estimate may lie past the stated bound by chance (1 in 1,000); a steady share above it means a defect.',
      }),
    })
    .nullable()
    .meta({
      description:
        'For a view with a distinct measure: its speed buckets carry HyperLogLog estimates, its batch buckets exact counts. Null for other views.',
    }),
  watermark: epochMs,
  revision: z.number().int().nullable().meta({
    description:
      "The stored manifest's revision (null before the first commit), also when it serves nothing (`servingProblem`): `expectedRevision` of POST /views/{name}/rollback.",
  }),
  batchRun,
  speed: z.object({ latestBucket: epochMs.nullable(), lagMs: z.number().int().nullable() }),
  lateness: viewLateness,
  settle: viewSettle,
  pending: z
    .object({
      version: z.number().int(),
      countingSince: epochMs.nullable().meta({
        description:
          'Since when the speed layer counts the new version without a gap; null while it does not.',
      }),
      switchFrom: epochMs.nullable().meta({
        description:
          "The least watermark at which the new version replaces the served one: the bucket boundary at or after `countingSince` plus the stage's switch margin (a deploy's rollover).",
      }),
      speedRetentionEndsAt: epochMs.meta({
        description:
          'While the switch waits the served watermark stands still: from this time on the served buckets from it start losing their speed items (expired), and answers there fall short. Alarmed at half the time.',
      }),
      backfill: z
        .object({
          daysDone: z.number().int(),
          daysTotal: z.number().int(),
          loadedThrough: z.string(),
          startedAt: epochMs,
        })
        .nullable(),
    })
    .nullable()
    .meta({
      description:
        "The code's new version of the view while the previous one (`version`, `measures`) is served whole: its backfill's progress and when its speed counting began.",
    }),
  servingProblem: z.string().nullable().meta({
    description:
      "Why the manifest's version cannot be served (its stored definition no longer builds over the catalog): the code's version is served from the speed layer alone meanwhile (alarmed); null normally.",
  }),
});

/** Whether a bucket's distinct measures are exact (batch) or HyperLogLog estimates (speed). */
const distinctValues = z.enum(['exact', 'sketch']).meta({
  description:
    'For a view with a distinct measure only: `exact` (batch, below W) or `sketch` (the speed layer’s HyperLogLog estimate, within the stated bound of GET /views’ `distinct`).',
});

export const views = z.object({ views: z.array(viewSummary) });

export const series = z.object({
  view: z.string(),
  version: z.number().int(),
  watermark: epochMs,
  step: z.enum(['minute', 'hour', 'day']),
  from: epochMs,
  to: epochMs,
  exact: z.boolean(),
  batchRun,
  buckets: z.array(
    z.object({
      start: epochMs,
      source: z.enum(['batch', 'speed', 'mixed']),
      distinct: distinctValues.optional(),
      batchVersion: z.string().optional().meta({ description: 'A batch bucket’s batch version.' }),
      groups: z.array(group),
    }),
  ),
  provenance: z
    .record(z.string(), batchProvenance)
    .meta({ description: 'The provenance of each batch version the buckets cite, by batch version.' }),
});

export const top = z.object({
  view: z.string(),
  version: z.number().int().meta({ description: 'The view version the groups were ranked by.' }),
  watermark: epochMs,
  from: epochMs,
  to: epochMs,
  measure: z.string(),
  groups: z.array(group),
  distinct: distinctValues.optional(),
  omitted: z
    .array(z.object({ measure: z.string(), reason: z.string() }))
    .optional()
    .meta({
      description:
        'Measures left out of the groups’ values, and why: a distinct measure over more than one bucket (distinct counts of buckets do not add). Absent when none is.',
    }),
});

export const ingestResult = z.object({
  accepted: z.number().int(),
  rejected: z.number().int(),
  errors: z.array(
    z.object({
      index: z.number().int(),
      message: z.string(),
      fields: z.array(z.object({ field: z.string(), message: z.string() })),
    }),
  ),
});

export const created = z.object({ id: z.string() });

export const exportStatus = z.object({
  id: z.string(),
  view: z.string(),
  version: z.number().int(),
  from: epochMs,
  to: epochMs,
  format: z.enum(['csv', 'parquet']),
  createdAt: epochMs,
  watermark: epochMs,
  batchRunId: z.string(),
  status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED']),
  rows: z.number().int().nullable(),
  downloads: z.array(z.string()),
  error: z.string().nullable(),
  provenance: z
    .object({
      definitionHash: z.string(),
      groupBy: z.array(z.string()),
      measures: z.array(z.string()),
      manifestRevision: z.number().int(),
      manifestCommittedAt: epochMs
        .optional()
        .meta({ description: 'When that revision was committed (absent on older exports).' }),
      batchVersions: z.record(z.string(), z.array(z.tuple([day, day]))).meta({
        description:
          'The batch versions of the days the export covers, as served when it was taken: each version’s ranges of consecutive days (2,000 ranges at most).',
      }),
      archive: z
        .object({
          objects: z.number().int(),
          bytes: z.number().int(),
          dayRanges: z.array(z.tuple([day, day])),
        })
        .meta({
          description:
            'The days its query reads and their archive objects and bytes, as marked when it started.',
        }),
    })
    .nullable()
    .meta({
      description: 'What the export was taken against; null for exports from before it was recorded.',
    }),
  completed: z
    .object({
      completedAt: epochMs,
      rows: z.number().int().nullable(),
      files: z.array(z.object({ file: z.string(), sha256: z.string(), bytes: z.number().int() })),
    })
    .nullable()
    .meta({
      description:
        'Recorded once, when the export has finished and every file it wrote has the sha256 the export hasher recorded as the file was written; never changed after.',
    }),
  filesHashed: z
    .object({
      hashed: z.number().int(),
      of: z.number().int(),
      notHashable: z.number().int().meta({
        description:
          'Files outside the exports prefix, which no hasher sees (CSV exports from before exports had their own work group): such an export never completes.',
      }),
    })
    .nullable()
    .meta({ description: 'For a finished export not yet complete: its files hashed so far, of how many.' }),
});

export const quarantine = z.object({
  total: z.number().int(),
  records: z.array(
    z.object({
      shardId: z.string(),
      sequenceNumber: z.string(),
      subSequenceNumber: z
        .number()
        .int()
        .min(0)
        .optional()
        .meta({
          description:
            'For one event of a packed (KPL aggregated) record: its index there. Absent for a plain record, ' +
            'and for a packed record refused whole (it does not decode).',
        }),
      partitionKey: z.string(),
      approximateArrivalTimestamp: epochMs,
      reason: z.string(),
      errors: z.array(z.object({ field: z.string(), message: z.string() })),
      data: z.string().meta({
        description:
          'The record as delivered (for one event of a packed record, that event), base64: its first 6 KB at most.',
      }),
      dataBytes: z.number().int().meta({ description: 'The record’s size in bytes.' }),
      dataTruncated: z.boolean(),
    }),
  ),
});
