import { manifestHistoryKey, manifestHistoryPartition } from '../../core/keys';
import { type Item, Table } from '../table';
import { type Manifest, packManifest, unpackManifest } from './manifest';

/** A manifest a commit or a rollback replaced: exactly what readers were served until `replacedAt`. */
export interface ReplacedManifest {
  readonly manifest: Manifest;
  /** When the write that replaced it was about to be made, epoch milliseconds. */
  readonly replacedAt: number;
}

/** A replaced manifest's identity, as listed: its plain attributes, without its day map. */
export interface ReplacedSummary {
  readonly revision: number;
  readonly lastRunId: string;
  readonly version: number;
  readonly committedAt: number;
  /** It was written by a rollback (its `rolledBackTo` is set). */
  readonly rolledBack: boolean;
  readonly replacedAt: number;
}

/**
 * Whether a manifest replaced at `replacedAt` is still within the rollback retention at `now`: a rollback
 * may serve it again, so clean-up keeps its day versions. A retention of 0 keeps none.
 */
export const isRetained = (replacedAt: number, now: number, retentionMs: number): boolean =>
  replacedAt > now - retentionMs;

/** The attributes a listing reads: never the gzipped manifest. */
const SUMMARY_ATTRIBUTES = ['revision', 'lastRunId', 'version', 'committedAt', 'rolledBack', 'replacedAt'];

/**
 * Every manifest a view's commits and rollbacks replaced, one item per revision: what a rollback points
 * the manifest back to, and what clean-up keeps the day versions of within the rollback retention. Each
 * item keeps the manifest's identity as plain attributes, so a listing reads a few bytes per revision and
 * only the chosen one's manifest is unpacked.
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
      revision: { N: String(manifest.revision) },
      lastRunId: { S: manifest.lastRunId },
      version: { N: String(manifest.version) },
      committedAt: { N: String(manifest.committedAt) },
      rolledBack: { BOOL: manifest.rolledBackTo !== undefined },
      replacedAt: { N: String(replacedAt) },
      manifestGz: { B: packManifest(manifest) },
    });
  }

  /** The replaced manifest of a revision, whole, or null when none is kept. */
  async get(view: string, revision: number): Promise<ReplacedManifest | null> {
    const item = await this.table.get(manifestHistoryKey(view, revision), true);
    return item?.manifestGz?.B === undefined
      ? null
      : { manifest: unpackManifest(item.manifestGz.B), replacedAt: Number(item.replacedAt?.N) };
  }

  /** The view's replaced manifests' identities, oldest revision first. */
  async list(view: string): Promise<ReplacedSummary[]> {
    const entries: ReplacedSummary[] = [];
    const query = this.table.query(manifestHistoryPartition(view), {
      consistent: true,
      projection: SUMMARY_ATTRIBUTES,
    });
    for await (const item of query) entries.push(summaryOf(item));
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

const summaryOf = (item: Item): ReplacedSummary => ({
  revision: Number(item.revision?.N),
  lastRunId: item.lastRunId?.S ?? '',
  version: Number(item.version?.N),
  committedAt: Number(item.committedAt?.N),
  rolledBack: item.rolledBack?.BOOL === true,
  replacedAt: Number(item.replacedAt?.N),
});
