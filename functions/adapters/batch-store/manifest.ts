import { gunzipSync, gzipSync } from 'node:zlib';
import { dayOf } from '../../core';
import { manifestKey } from '../../core/keys';
import type { Table } from '../table';

/** A view's manifest: what readers serve. Changed only by one conditional update per batch run. */
export interface Manifest {
  readonly view: string;
  /** The view definition's version the batch items were computed with. */
  readonly version: number;
  /** Bumped by every commit; a commit names the revision it read (optimistic lock). */
  readonly revision: number;
  /** Batch rows are exact for buckets below it; the speed layer serves from it on. */
  readonly watermark: number;
  /** Active batch version per event-time day. */
  readonly days: Readonly<Record<string, string>>;
  readonly lastRunId: string;
  /** When the last committed run started: archive objects newer than this are dirty. */
  readonly lastRunStartedAt: number;
  readonly committedAt: number;
  /** `definitionHash` of the view version the rows were computed with; absent in older manifests. */
  readonly definitionHash?: string;
  /** Set by a rollback: the revision (and its run) whose days and watermark this one serves again. */
  readonly rolledBackTo?: { readonly revision: number; readonly lastRunId: string };
  /**
   * View versions a rollback took back from: the plan does not recompute them again (it skips the view,
   * saying why) until the code's version moves on.
   */
  readonly rolledBackVersions?: readonly number[];
  /**
   * Set by the commit that switched the view to a new definition: the version it replaced and when (epoch
   * ms); later commits of the same version carry them. The speed layer counts the replaced version for the
   * rollback retention after `switchedAt`, so that a rollback to it serves no hole.
   */
  readonly replacedVersion?: number;
  readonly switchedAt?: number;
}

/** What the speed layer reads of a manifest to know which versions to count (`Manifests.versions`). */
export type ManifestVersions = Pick<Manifest, 'version' | 'replacedVersion' | 'switchedAt'>;

/** What the lateness recorder reads of a manifest to know which buckets were exact (`Manifests.exactness`). */
export type ManifestExactness = Pick<Manifest, 'watermark' | 'lastRunStartedAt'>;

const VERSION_ATTRIBUTES = ['version', 'replacedVersion', 'switchedAt'] as const;
const EXACTNESS_ATTRIBUTES = ['watermark', 'lastRunStartedAt'] as const;
/** The attributes a commit stores beside the packed manifest, so that they can be read alone. */
const PLAIN_ATTRIBUTES = [...VERSION_ATTRIBUTES, ...EXACTNESS_ATTRIBUTES] as const;

/** A manifest as stored: gzip JSON (see `Manifests.commit`). */
export const packManifest = (manifest: Manifest): Uint8Array => gzipSync(JSON.stringify(manifest));

export const unpackManifest = (packed: Uint8Array): Manifest =>
  JSON.parse(gunzipSync(packed).toString('utf8')) as Manifest;

const versionsOf = ({ version, replacedVersion, switchedAt }: ManifestVersions): ManifestVersions => ({
  version,
  ...(replacedVersion === undefined || switchedAt === undefined ? {} : { replacedVersion, switchedAt }),
});

/** The manifest's active (day, batch version) pairs whose days overlap [from, to). */
export function activeDays(
  manifest: Manifest,
  from: number,
  to: number,
): [day: string, batchVersion: string][] {
  const first = dayOf(from);
  const last = dayOf(Math.max(from, to - 1));
  return Object.entries(manifest.days).filter(([day]) => day >= first && day <= last);
}

/**
 * A commit switching the view to another version records the version it replaced and when (the speed
 * layer counts it for the rollback retention from then on); a later commit of the same version carries
 * them on.
 */
export function switchOf(
  previous: Manifest | null,
  version: number,
  now: number,
): Pick<Manifest, 'replacedVersion' | 'switchedAt'> {
  if (previous === null) return {};
  if (previous.version !== version) return { replacedVersion: previous.version, switchedAt: now };
  const { replacedVersion, switchedAt } = previous;
  return replacedVersion === undefined || switchedAt === undefined || replacedVersion === version
    ? {}
    : { replacedVersion, switchedAt };
}

export class ManifestConflictError extends Error {
  override readonly name = 'ManifestConflictError';
}

/** The views' manifests, one item each. */
export class Manifests {
  constructor(private readonly table: Table) {}

  async get(viewName: string): Promise<Manifest | null> {
    const item = await this.table.get(manifestKey(viewName), true);
    const packed = item?.manifestGz?.B;
    // Manifests written before they were gzipped are plain JSON text.
    const body = packed === undefined ? item?.manifest?.S : gunzipSync(packed).toString('utf8');
    return body === undefined ? null : (JSON.parse(body) as Manifest);
  }

  /**
   * The served version and the one it replaced, read alone (not the day map): what the speed layer reads
   * every refresh. Manifests committed before these attributes were stored are read whole.
   */
  async versions(viewName: string): Promise<ManifestVersions | null> {
    const item = await this.table.get(manifestKey(viewName), true, VERSION_ATTRIBUTES);
    if (item === undefined) return null;
    if (item.version?.N === undefined) {
      const manifest = await this.get(viewName);
      return manifest === null ? null : versionsOf(manifest);
    }
    return versionsOf({
      version: Number(item.version.N),
      ...(item.replacedVersion?.N === undefined ? {} : { replacedVersion: Number(item.replacedVersion.N) }),
      ...(item.switchedAt?.N === undefined ? {} : { switchedAt: Number(item.switchedAt.N) }),
    });
  }

  /**
   * The served watermark and when the run that committed it started, read alone (not the day map): what
   * the lateness recorder reads of every view, per instance, every `EXACTNESS_CACHE_MS`. Manifests
   * committed before these attributes were stored are read whole.
   */
  async exactness(viewName: string): Promise<ManifestExactness | null> {
    const item = await this.table.get(manifestKey(viewName), true, EXACTNESS_ATTRIBUTES);
    if (item === undefined) return null;
    if (item.watermark?.N === undefined || item.lastRunStartedAt?.N === undefined) {
      const manifest = await this.get(viewName);
      return manifest === null
        ? null
        : { watermark: manifest.watermark, lastRunStartedAt: manifest.lastRunStartedAt };
    }
    return { watermark: Number(item.watermark.N), lastRunStartedAt: Number(item.lastRunStartedAt.N) };
  }

  /** Writes the next manifest if the stored one is still at `expectedRevision` (0: none yet). */
  async commit(next: Manifest, expectedRevision: number): Promise<void> {
    const attributes = {
      revision: { N: String(next.revision) },
      // Gzipped: its day map has an entry per day of history, about 45 bytes each as JSON (the catalog's
      // century would be 1.6 MB), and day versions repeat a few run ids (tens of KB gzipped).
      manifestGz: { B: packManifest(next) },
      // Beside it, readable alone (`versions`, `exactness`).
      ...Object.fromEntries(
        PLAIN_ATTRIBUTES.flatMap((name) =>
          next[name] === undefined ? [] : [[name, { N: String(next[name]) }]],
        ),
      ),
    };
    const written = await this.table.putIf(
      manifestKey(next.view),
      attributes,
      expectedRevision === 0
        ? { condition: 'attribute_not_exists(#pk)' }
        : {
            condition: '#revision = :expected',
            names: { '#revision': 'revision' },
            values: { ':expected': { N: String(expectedRevision) } },
          },
    );
    if (!written)
      throw new ManifestConflictError(
        `manifest of ${next.view} moved past revision ${expectedRevision}: another run committed first`,
      );
  }
}
