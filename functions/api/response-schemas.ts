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

export const error = z.object({
  statusCode: z.number().int(),
  error: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});

const viewSummary = z.object({
  name: z.string(),
  version: z.number().int(),
  bucket: z.enum(['minute', 'hour', 'day']),
  groupBy: z.array(z.string()),
  measures: z.record(z.string(), z.enum(['count', 'sum', 'min', 'max'])),
  watermark: epochMs,
  batchRun,
  speed: z.object({ latestBucket: epochMs.nullable(), lagMs: z.number().int().nullable() }),
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
    z.object({ start: epochMs, source: z.enum(['batch', 'speed', 'mixed']), groups: z.array(group) }),
  ),
});

export const top = z.object({
  view: z.string(),
  watermark: epochMs,
  from: epochMs,
  to: epochMs,
  measure: z.string(),
  groups: z.array(group),
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
