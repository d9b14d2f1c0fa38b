import { batchContext } from './context';
import type { BatchDeps } from './deps';

export interface CleanupOutput {
  readonly versionsDeleted: number;
  readonly itemsDeleted: number;
}

/**
 * Deletes batch versions no manifest points at (replaced by a later run, or written by a run that
 * failed before its commit) once they are older than the grace period, so a reader that fetched the
 * previous manifest can still finish. Speed items below the watermark expire by TTL.
 */
export async function cleanup(deps: BatchDeps): Promise<CleanupOutput> {
  let versionsDeleted = 0;
  let itemsDeleted = 0;
  const cutoff = deps.now() - deps.graceMs;
  for (const view of deps.views) {
    const manifest = await deps.store.getManifest(view.name);
    for (const entry of await deps.store.listVersions(view.name)) {
      const active =
        manifest?.days[entry.day] === entry.batchVersion && manifest.version === entry.viewVersion;
      if (active || entry.createdAt > cutoff) continue;
      itemsDeleted += await deps.store.deleteVersion(entry);
      versionsDeleted++;
    }
  }
  deps.logger.info('batch versions cleaned up', { versionsDeleted, itemsDeleted });
  return { versionsDeleted, itemsDeleted };
}

export const handler = async (): Promise<CleanupOutput> => cleanup(await batchContext());
