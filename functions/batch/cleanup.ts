import { MetricUnit } from '@aws-lambda-powertools/metrics';
import pLimit from 'p-limit';
import { isRetained } from '../adapters/batch-store/manifest-history';
import { BATCH_METRICS } from '../commons/metrics';
import type { BatchDeps } from './deps';
import { completeLedger, ledgerDeadline } from './ledger';

export interface CleanupOutput {
  readonly versionsDeleted: number;
  readonly itemsDeleted: number;
  /** Replaced or orphaned versions still within their grace period. */
  readonly versionsKept: number;
  /** Replaced manifests forgotten: replaced longer ago than the rollback retention. */
  readonly manifestsForgotten: number;
  /** Ledger recordings it completed, and those still incomplete when its budget ran out (or failed: logged). */
  readonly ledgerCompleted: number;
  readonly ledgerIncomplete: number;
  /** Ledger recordings it marked abandoned: a manifest their diff reads is no longer kept. */
  readonly ledgerAbandoned: number;
}

/** Replaced manifests read at once to gather the day versions they serve. */
const MANIFESTS_READ_AT_ONCE = 8;

/**
 * Deletes batch versions no manifest points at (replaced by a later run, or written by a run that
 * failed before its commit) once the grace period has passed both since they were written (younger
 * ones may belong to a run still loading) and since a clean-up first found them unreferenced (a reader
 * that fetched the previous manifest may still be reading them). A version replaced soon after its
 * write, as today's is every run, so lives up to twice the grace period. Versions an unfinished
 * recompute of the view's version loaded (a backfill going on over several runs) are kept: its commit
 * will point the manifest at them. So are the versions of every manifest replaced within the rollback
 * retention (a rollback may serve them again); replaced manifests past it are forgotten, and their
 * versions then go as any replaced version. Speed items below the watermark expire by TTL.
 *
 * First it goes on with every ledger recording a commit or a rollback left incomplete (within its
 * ledger budget), marks abandoned those that never can complete, and deletes the headers of writes that
 * lost: an incomplete recording keeps the two replaced manifests it diffs past the retention, until it
 * completes. Per view, it publishes the recordings still incomplete and those it abandoned.
 */
export async function cleanup(deps: BatchDeps): Promise<CleanupOutput> {
  let versionsDeleted = 0;
  let itemsDeleted = 0;
  let versionsKept = 0;
  let manifestsForgotten = 0;
  let ledgerCompleted = 0;
  let ledgerIncomplete = 0;
  let ledgerAbandoned = 0;
  const deadline = ledgerDeadline(deps, 'cleanup');
  for (const view of deps.views) {
    // The history before the manifest: a manifest replaced in between is the one read next.
    const history = await deps.store.manifestHistory.list(view.name);
    const manifest = await deps.store.getManifest(view.name);
    // A header's previous manifest was replaced at its time: the oldest kept one bounds the headers read.
    // The retention too: a recording within it whose manifests are gone is found, and abandoned.
    const since = Math.min(
      deps.now() - deps.rollbackRetentionMs,
      ...history.map((entry) => entry.replacedAt),
    );
    const ledger = await completeLedger(deps, view.name, manifest, since, deadline);
    ledgerCompleted += ledger.completed;
    ledgerIncomplete += ledger.incomplete;
    ledgerAbandoned += ledger.abandoned;
    publishLedgerState(deps, view.name, ledger);
    const retainedAt = deps.now();
    const isKept = (entry: (typeof history)[number]) =>
      isRetained(entry.replacedAt, retainedAt, deps.rollbackRetentionMs) ||
      ledger.neededRevisions.has(entry.revision);
    const past = history.filter((entry) => !isKept(entry));
    await deps.store.manifestHistory.delete(
      view.name,
      past.map((entry) => entry.revision),
    );
    manifestsForgotten += past.length;
    // The (view version, day, batch version) every kept manifest serves, one manifest read at a time.
    const retained = new Set<string>();
    const limit = pLimit(MANIFESTS_READ_AT_ONCE);
    await Promise.all(
      history.filter(isKept).map((entry) =>
        limit(async () => {
          const kept = await deps.store.manifestHistory.get(view.name, entry.revision);
          for (const [day, batchVersion] of Object.entries(kept?.manifest.days ?? {}))
            retained.add(`${kept?.manifest.version}|${day}|${batchVersion}`);
        }),
      ),
    );
    const progress = await deps.store.getProgress(view.name, view.version);
    const loading = progress?.committedAt === null ? progress : null;
    for (const entry of await deps.store.listVersions(view.name)) {
      const servedBy = (served: { days: Readonly<Record<string, string>>; version: number } | null) =>
        served?.days[entry.day] === entry.batchVersion && served.version === entry.viewVersion;
      const active =
        servedBy(manifest) ||
        servedBy(loading) ||
        retained.has(`${entry.viewVersion}|${entry.day}|${entry.batchVersion}`);
      if (active) {
        // Marked by a clean-up that ran while its run was still loading: its grace starts afresh.
        if (entry.inactiveSince !== undefined) await deps.store.markInactive(entry, null);
        continue;
      }
      // Now, not when clean-up started: the manifest read above may hold a replacement made since.
      const now = deps.now();
      const cutoff = now - deps.graceMs;
      if (entry.createdAt > cutoff) continue;
      const inactiveSince = entry.inactiveSince ?? (await deps.store.markInactive(entry, now));
      if (inactiveSince === null) continue; // deleted by a concurrent clean-up
      if ((inactiveSince ?? now) > cutoff) {
        versionsKept++;
        continue;
      }
      itemsDeleted += await deps.store.deleteVersion(entry);
      versionsDeleted++;
    }
  }
  const output = {
    versionsDeleted,
    itemsDeleted,
    versionsKept,
    manifestsForgotten,
    ledgerCompleted,
    ledgerIncomplete,
    ledgerAbandoned,
  };
  deps.logger.info('batch versions cleaned up', output);
  return output;
}

/** A view's ledger recordings still incomplete after clean-up, and those it abandoned. */
function publishLedgerState(
  deps: BatchDeps,
  view: string,
  ledger: { readonly incomplete: number; readonly abandoned: number },
): void {
  for (const [spec, value] of [
    [BATCH_METRICS.ledgerIncomplete, ledger.incomplete],
    [BATCH_METRICS.ledgerAbandoned, ledger.abandoned],
  ] as const) {
    // A single metric is published as its value is added: one per metric.
    const metric = deps.metrics.singleMetric();
    metric.addDimension(spec.dimensions[0] as string, view);
    metric.addMetric(spec.name, MetricUnit.Count, value);
  }
}
