import { manifestHistoryKey, manifestHistoryPartition } from '../../core/keys';
import { Table } from '../table';
import { type Manifest, packManifest, unpackManifest } from './manifest';

/** A manifest a commit or a rollback replaced: exactly what readers were served until `replacedAt`. */
export interface ReplacedManifest {
  readonly manifest: Manifest;
  /** When the write that replaced it was about to be made, epoch milliseconds. */
  readonly replacedAt: number;
}

/**
 * Every manifest a view's commits and rollbacks replaced, one item per revision: what a rollback points
 * the manifest back to, and what clean-up keeps the day versions of within the rollback retention.
 */
export class ManifestHistory {
  constructor(private readonly table: Table) {}

  /**
   * Records `manifest` as replaced at `replacedAt`, before the conditional write that replaces it: a
   * crash in between leaves an entry for a manifest still served, which the next attempt rewrites. The
   * entry is the same whoever writes it (the manifest of that revision), but for its time.
   */
  async put(manifest: Manifest, replacedAt: number): Promise<void> {
    await this.table.put(manifestHistoryKey(manifest.view, manifest.revision), {
      replacedAt: { N: String(replacedAt) },
      manifestGz: { B: packManifest(manifest) },
    });
  }

  async get(view: string, revision: number): Promise<ReplacedManifest | null> {
    const item = await this.table.get(manifestHistoryKey(view, revision), true);
    return item === undefined ? null : replacedOf(item);
  }

  /** The view's replaced manifests, oldest revision first. */
  async list(view: string): Promise<ReplacedManifest[]> {
    const entries: ReplacedManifest[] = [];
    for await (const item of this.table.query(manifestHistoryPartition(view), { consistent: true }))
      entries.push(replacedOf(item));
    return entries;
  }

  /** Deletes the entries of these revisions (BatchWriteItem: clean-up's one write action). */
  async delete(view: string, revisions: readonly number[]): Promise<void> {
    await this.table.batchWrite(
      revisions.map((revision) => ({
        DeleteRequest: { Key: Table.key(manifestHistoryKey(view, revision)) },
      })),
    );
  }
}

const replacedOf = (item: Record<string, { N?: string; B?: Uint8Array }>): ReplacedManifest => ({
  manifest: unpackManifest(item.manifestGz?.B ?? new Uint8Array()),
  replacedAt: Number(item.replacedAt?.N),
});
