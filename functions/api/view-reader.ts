import { activeDays, type DynamoBatchStore, type Manifest } from '../adapters/dynamo-batch-store';
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
 * Reads a view for [from, to) as the serving layer answers it: one consistent read of the manifest,
 * then only the active batch days below the watermark and the speed partitions from it on. Batch days
 * never change once written, so they are cached by their key; the manifest and speed rows never are.
 */
export class ViewReader {
  private readonly batchDays = new Lru<Promise<ViewRow[]>>(CACHED_DAYS);
  /** Concurrent identical reads share one request. */
  private readonly reads = new SingleFlight();

  constructor(
    private readonly batch: DynamoBatchStore,
    private readonly speed: DynamoSpeedStore,
    /** Speed items live this long past their bucket: older buckets are not read from the speed layer. */
    private readonly speedRetentionMs: number,
  ) {}

  async manifestOf(view: ViewDefinition): Promise<Manifest | null> {
    const manifest = await this.reads.run(`manifest|${view.name}`, () => this.batch.getManifest(view.name));
    // A manifest of another view version holds rows of another definition: none are served.
    return manifest !== null && manifest.version === view.version ? manifest : null;
  }

  /**
   * The served rows of [from, to). Pass the manifest when the caller has read it for this request; it is
   * read here otherwise.
   */
  async read(
    view: ViewDefinition,
    from: number,
    to: number,
    now: number,
    manifest: Manifest | null | undefined = undefined,
  ): Promise<ServedView> {
    if (manifest === undefined) manifest = await this.manifestOf(view);
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
