/** The restatement ledger and rollbacks as the API answers them. */
import { z } from 'zod';
import { RESTATEMENT_CAUSES } from '../core/restatements';
import { epochMs } from './response-schemas';

const measureValue = z
  .union([z.number().int(), z.string().regex(/^-?\d+$/), z.null()])
  .meta({ description: 'An exact integer (a decimal string past 2^53 - 1); null where there was none.' });

export const restatement = z.object({
  view: z.string(),
  bucket: epochMs,
  group: z.record(z.string(), z.string().nullable()),
  measure: z.string(),
  old: measureValue,
  new: measureValue,
  runId: z.string().meta({ description: 'The run that committed the change, or `rollback-r<revision>`.' }),
  batchVersion: z.string().meta({ description: "The day's version now served ('' for none)." }),
  previousBatchVersion: z.string().meta({ description: "The day's version served before ('' for none)." }),
  cause: z.enum(RESTATEMENT_CAUSES),
  at: epochMs.meta({ description: 'When the change was committed.' }),
});

export const restatements = z.object({
  view: z.string(),
  since: epochMs,
  restatements: z.array(restatement),
  cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null at the end.' }),
});

export const rollbackResult = z.object({
  view: z.string(),
  revision: z.number().int().meta({ description: 'The manifest revision the rollback wrote.' }),
  previousRevision: z.number().int(),
  target: z.object({
    revision: z.number().int(),
    batchVersion: z.string(),
    version: z.number().int(),
    committedAt: epochMs,
  }),
  watermark: epochMs,
  restatements: z.number().int().nullable(),
  heldBackVersion: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'The view version batch runs skip from now on (rolled back from), or null.' }),
});

/** What of an export was restated since it was taken (`GET /exports/{id}`, routes/exports.ts). */
export const exportRestated = z
  .object({
    since: epochMs,
    count: z.number().int(),
    countStopped: z.boolean().meta({ description: 'The count stopped at 10,000: there are more.' }),
    restatements: z.array(restatement).meta({ description: 'The first 20.' }),
  })
  .meta({
    description:
      'Exact values of the export restated since it was taken (its buckets, groups and measures), from the restatement ledger.',
  });
