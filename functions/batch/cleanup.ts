import type { BatchDeps } from './deps';

export interface CleanupOutput {
  readonly versionsDeleted: number;
  readonly itemsDeleted: number;
  /** Replaced or orphaned versions still within their grace period. */
  readonly versionsKept: number;
  /** Replaced manifests forgotten: replaced longer ago than the rollback retention. */
  readonly manifestsForgotten: number;
}

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
 */
export async function cleanup(deps: BatchDeps): Promise<CleanupOutput> {
  let versionsDeleted = 0;
  let itemsDeleted = 0;
  let versionsKept = 0;
  let manifestsForgotten = 0;
  for (const view of deps.views) {
    // The history before the manifest: a manifest replaced in between is the one read next.
    const history = await deps.store.manifestHistory.list(view.name);
    const retainedSince = deps.now() - deps.rollbackRetentionMs;
    // Retained while replaced less than the retention ago: a retention of 0 keeps none.
    const past = history.filter((entry) => entry.replacedAt <= retainedSince);
    await deps.store.manifestHistory.delete(
      view.name,
      past.map((entry) => entry.manifest.revision),
    );
    manifestsForgotten += past.length;
    const retained = history.flatMap((entry) => (entry.replacedAt > retainedSince ? [entry.manifest] : []));
    const manifest = await deps.store.getManifest(view.name);
    const progress = await deps.store.getProgress(view.name, view.version);
    const loading = progress?.committedAt === null ? progress : null;
    for (const entry of await deps.store.listVersions(view.name)) {
      const servedBy = (served: { days: Readonly<Record<string, string>>; version: number } | null) =>
        served?.days[entry.day] === entry.batchVersion && served.version === entry.viewVersion;
      const active = servedBy(manifest) || servedBy(loading) || retained.some(servedBy);
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
  deps.logger.info('batch versions cleaned up', {
    versionsDeleted,
    itemsDeleted,
    versionsKept,
    manifestsForgotten,
  });
  return { versionsDeleted, itemsDeleted, versionsKept, manifestsForgotten };
}
