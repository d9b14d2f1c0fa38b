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
  revision: z.number().int().meta({
    description: 'The manifest revision the change took effect in: readers of earlier ones saw `old`.',
  }),
  batchVersion: z.string().meta({ description: "The day's version now served ('' for none)." }),
  previousBatchVersion: z.string().meta({ description: "The day's version served before ('' for none)." }),
  cause: z.enum(RESTATEMENT_CAUSES),
  at: epochMs.meta({ description: 'When the change was committed.' }),
});

/** A ledger header: one recorded change (a commit or a rollback) and how far its recording has come. */
export const ledgerRun = z.object({
  view: z.string(),
  runId: z.string(),
  revision: z.number().int(),
  previousRevision: z.number().int(),
  at: epochMs,
  cause: z.enum(RESTATEMENT_CAUSES),
  watermark: z
    .object({ before: epochMs, after: epochMs })
    .meta({ description: 'The watermark moved from `before` to `after` (back, for a rollback).' }),
  complete: z.boolean().meta({ description: 'Every value it changed is listed.' }),
  throughDay: z.string().meta({ description: "The last day recorded ('' for none yet), in day order." }),
  entries: z.number().int().meta({ description: 'Entries recorded so far.' }),
});

export const restatements = z.object({
  view: z.string(),
  since: epochMs,
  restatements: z.array(restatement),
  cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null at the end.' }),
  incomplete: z
    .array(z.object({ runId: z.string(), revision: z.number().int(), throughDay: z.string() }))
    .meta({
      description:
        'Changes the page went through still being recorded (their entries after `throughDay` are not listed yet): the next clean-up goes on with them.',
    }),
  abandoned: z
    .array(
      z.object({ runId: z.string(), revision: z.number().int(), throughDay: z.string(), reason: z.string() }),
    )
    .meta({
      description:
        'Changes the page went through whose recording never will complete (`reason`: a manifest its diff reads is no longer kept): entries after `throughDay` are not listed, and never will be.',
    }),
  rollbacks: z.array(ledgerRun).meta({
    description:
      'Rollbacks the page went through (at most 100), even those that changed no value: their watermark went back, and buckets from the new watermark on are no longer exact.',
  }),
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
  restatements: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'Values it restated; null while still being recorded (see `ledger`).' }),
  ledger: ledgerRun.meta({
    description: "The rollback's ledger header: what the request's time left unrecorded, clean-up completes.",
  }),
  heldBackVersion: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'The view version batch runs skip from now on (rolled back from), or null.' }),
});

/** What of an export was restated since it was taken (`GET /exports/{id}`, routes/exports.ts). */
export const exportRestated = z
  .object({
    sinceRevision: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'The manifest revision the export was taken against: later revisions are read.' }),
    since: epochMs.meta({
      description: 'Where the ledger was read from (that revision’s commit time, less a minute).',
    }),
    count: z.number().int().meta({ description: 'Ledger entries since the export, in its range.' }),
    valuesChanged: z.number().int().meta({
      description:
        'Of those, the (bucket, group, measure) whose exact value now differs from the one served when the export was taken: changes undone later (a rollback) net out. The export reads the archive itself, so an entry says to look, not that its file is wrong (docs/semantics.md).',
    }),
    countStopped: z.boolean().meta({
      description:
        'The count stopped (at 10,000, or at the ledger read one answer allows): there may be more, and more changes in `incomplete`, `abandoned` and `watermarkRetreats`.',
    }),
    cursor: z.string().nullable().meta({
      description:
        'Where the count stopped: pass it with the same since, from and to to GET /views/{name}/restatements.',
    }),
    restatements: z.array(restatement).meta({ description: 'The first 20.' }),
    incomplete: z
      .array(z.object({ runId: z.string(), revision: z.number().int(), at: epochMs, throughDay: z.string() }))
      .meta({
        description:
          'Changes after the export whose entries are still being recorded and have not reached its last day: the count may grow.',
      }),
    abandoned: z
      .array(
        z.object({
          runId: z.string(),
          revision: z.number().int(),
          at: epochMs,
          throughDay: z.string(),
          reason: z.string(),
        }),
      )
      .meta({
        description:
          'Changes after the export whose recording never will complete and did not reach its last day: values they changed in its range may be missing from the count.',
      }),
    watermarkRetreats: z
      .array(
        z.object({ runId: z.string(), revision: z.number().int(), at: epochMs, from: epochMs, to: epochMs }),
      )
      .meta({
        description:
          'Changes that moved the watermark back over the export’s range (a rollback): its buckets in [from, to) are no longer exact.',
      }),
  })
  .meta({
    description:
      'Exact values of the export restated since it was taken (its buckets, groups and measures), from the restatement ledger.',
  });
