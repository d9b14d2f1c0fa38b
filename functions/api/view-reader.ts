import pLimit from 'p-limit';
import {
  activeDays,
  type BatchProvenance,
  type DynamoBatchStore,
  type Manifest,
  type VersionDefinition,
} from '../adapters/dynamo-batch-store';
import type { DynamoSpeedStore } from '../adapters/dynamo-speed-store';
import {
  batchPartitionKey,
  type ServedRow,
  serveByWatermark,
  type ViewDefinition,
  type ViewRow,
} from '../core';
import { bucketStart } from '../core/keys';
import { servedWatermark, splitAtWatermark } from '../core/watermark';
import { computeOnce, Lru } from './lru';
import { SingleFlight } from './single-flight';

export interface ServedView {
  /** The manifest served from, if it holds this view version's batch rows. */
  readonly manifest: Manifest | null;
  /** 0 until the batch layer has computed this view version. */
  readonly watermark: number;
  readonly rows: readonly ServedRow[];
}

/** How many batch days (about 500 rows each for an hourly view of 20 groups) a reader keeps. */
const CACHED_DAYS = 1_000;

/**
 * How many provenance records a reader reads at once: a daily series over years cites about a thousand
 * batch versions, and a thousand reads at once would be throttled and hold as many sockets.
 */
export const PROVENANCE_READS_AT_ONCE = 16;

/**
 * Reads a view for [from, to) as the serving layer answers it: one consistent read of the manifest,
 * then only the active batch days below the watermark and the speed partitions from it on. Batch days
 * never change once written, so they are cached by their key; the manifest and speed rows never are.
 */
export class ViewReader {
  private readonly batchDays = new Lru<Promise<ViewRow[]>>(CACHED_DAYS);
  /** Stored definitions of versions the code no longer holds: a version's definition never changes. */
  private readonly storedViews = new Lru<Promise<VersionDefinition>>(100);
  /** Batch versions' provenance: written before a manifest cites the version, then unchanged. */
  private readonly provenanceRecords = new Lru<Promise<BatchProvenance | null>>(CACHED_DAYS);
  private readonly provenanceReads = pLimit(PROVENANCE_READS_AT_ONCE);
  /** Concurrent identical reads share one request. */
  private readonly reads = new SingleFlight();

  constructor(
    private readonly batch: DynamoBatchStore,
    private readonly speed: DynamoSpeedStore,
    /** Speed items live this long past their bucket: older buckets are not read from the speed layer. */
    private readonly speedRetentionMs: number,
  ) {}

  /**
   * The view as it is served now, and the manifest served from. While the manifest still serves another
   * version than the code's (a new definition backfills until its speed items cover every bucket from the
   * watermark on, or a rollback returned to it), that version is served whole, from its stored definition:
   * its measures, its batch rows, its speed items. A manifest of a version never registered (committed
   * before the registry), or whose stored definition no longer builds over the catalog (`problem` says
   * so), serves nothing: the code's view from the speed layer alone. `definitionHash` is the served
   * version's as registered (what its rows were computed with). `revision` is the stored manifest's,
   * null only before the first commit, whether it serves or not: what a rollback is conditioned on.
   */
  async served(view: ViewDefinition): Promise<{
    readonly view: ViewDefinition;
    readonly manifest: Manifest | null;
    readonly revision: number | null;
    readonly definitionHash: string | null;
    readonly problem: string | null;
  }> {
    const manifest = await this.reads.run(`manifest|${view.name}`, () => this.batch.getManifest(view.name));
    const version = manifest?.version ?? view.version;
    const definition = await computeOnce(this.storedViews, `${view.name}#${version}`, () =>
      this.batch.definitions.definitionOf(view, version),
    );
    const revision = manifest?.revision ?? null;
    if (definition.error === null)
      return {
        view: definition.view,
        manifest,
        revision,
        definitionHash: definition.definitionHash,
        problem: null,
      };
    return {
      view,
      manifest: null,
      revision,
      definitionHash: null,
      problem: definition.registered
        ? `${definition.error}: v${view.version} is served from the speed layer alone until it switches`
        : null,
    };
  }

  /**
   * The served rows of [from, to), from `manifest`: the one `served` gave with `view` (a manifest of
   * another version holds another definition's rows), or null for the speed layer alone.
   */
  async read(
    view: ViewDefinition,
    from: number,
    to: number,
    now: number,
    manifest: Manifest | null,
  ): Promise<ServedView> {
    if (manifest !== null && manifest.version !== view.version)
      throw new Error(
        `the manifest of ${view.name} is of v${manifest.version}, not v${view.version}: read what served() gives`,
      );
    const watermark = servedWatermark(manifest);
    const { batch, speed } = splitAtWatermark({ from, to }, watermark);
    // Speed items live speedRetentionMs past their bucket: days before the oldest one's are not read.
    const speedFrom = Math.max(speed?.from ?? to, bucketStart(now - this.speedRetentionMs, 'day'));
    const [batchDays, speedRows] = await Promise.all([
      manifest === null || batch === null
        ? []
        : Promise.all(
            activeDays(manifest, batch.from, batch.to).map(([day, batchVersion]) =>
              this.batchDay(view, manifest.version, day, batchVersion),
            ),
          ),
      speedFrom < to
        ? this.reads.run(`speed|${view.name}|${view.version}|${speedFrom}|${to}`, () =>
            this.speed.readRows(view, speedFrom, to, now),
          )
        : [],
    ]);
    const batchRows =
      batch === null
        ? []
        : batchDays.flat().filter((row) => row.bucket >= batch.from && row.bucket < batch.to);
    return {
      manifest,
      watermark,
      rows: serveByWatermark(view, watermark, { batch: batchRows, speed: speedRows }),
    };
  }

  /** The provenance of these batch versions of a view, by version (a version without a record is left out). */
  async provenance(
    viewName: string,
    batchVersions: Iterable<string>,
  ): Promise<Record<string, BatchProvenance>> {
    const records = await Promise.all(
      [...new Set(batchVersions)].map(async (batchVersion) => {
        const key = `${viewName}|${batchVersion}`;
        // Bounded where the store is read: a cached record is not held behind the reads.
        const reading = computeOnce(this.provenanceRecords, key, () =>
          this.provenanceReads(() => this.batch.provenance.get(viewName, batchVersion)),
        );
        const record = await reading;
        // A version committed before records were kept has none: asked again, not remembered as none.
        if (record === null) this.provenanceRecords.deleteIf(key, reading);
        return record;
      }),
    );
    return Object.fromEntries(
      records.flatMap((record) => (record === null ? [] : [[record.batchVersion, record]])),
    );
  }

  private batchDay(
    view: ViewDefinition,
    version: number,
    day: string,
    batchVersion: string,
  ): Promise<ViewRow[]> {
    const key = batchPartitionKey({ name: view.name, version }, day, batchVersion);
    return computeOnce(this.batchDays, key, () =>
      this.batch.readDayRows(view.name, version, day, batchVersion),
    );
  }
}
