import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { ArchiveCompleteness } from '../adapters/archive-completeness';
import type { DynamoBatchStore } from '../adapters/dynamo-batch-store';
import type { SpeedStore } from '../adapters/dynamo-speed-store';
import type { QueryEngine } from '../adapters/query-engine';
import type { ViewDefinition } from '../core';
import type { SettlePolicy } from '../core/lateness';

/** What the batch steps work with; handlers build it from the environment, tests from emulators. */
export interface BatchDeps {
  readonly views: readonly ViewDefinition[];
  readonly store: DynamoBatchStore;
  readonly speed: SpeedStore;
  readonly engine: QueryEngine;
  /** How far the archive is complete: the plan's watermark never passes it. */
  readonly archive: ArchiveCompleteness;
  /** Allowed lateness: the watermark trails now by at least this (the fixed settle, or `auto`'s maximum). */
  readonly settleMs: number;
  /** How each view's settle time is chosen (`./settle.ts`). @default fixed, `settleMs` */
  readonly settle?: SettlePolicy;
  /** How long a replaced batch version stays readable before clean-up deletes it. */
  readonly graceMs: number;
  /** How long a replaced manifest can be rolled back to: clean-up keeps its day versions that long. */
  readonly rollbackRetentionMs: number;
  /** A new view definition switches in no earlier than this after speed began counting it (`definitionSwitchFrom`). */
  readonly definitionSwitchMarginMs: number;
  /** How long one step may spend recording the ledger (functions/batch/ledger.ts). @default LEDGER_BUDGET_MS */
  readonly ledgerBudgetMs?: number;
  /** At most this many days per load (and per query) of a view. @see DAYS_PER_LOAD */
  readonly daysPerLoad: number;
  /** At most this many loads of a view per run while it backfills; the next run goes on. @see BACKFILL_LOADS_PER_RUN */
  readonly loadsPerRun: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly now: () => number;
}

export function viewNamed(deps: BatchDeps, name: string): ViewDefinition {
  const view = deps.views.find((candidate) => candidate.name === name);
  if (view === undefined) throw new Error(`unknown view ${name}`);
  return view;
}
