import { activeDays, type DynamoBatchStore, type Manifest } from '../adapters/dynamo-batch-store';
import type { DynamoSpeedStore } from '../adapters/dynamo-speed-store';
import {
  BUCKET_WIDTH_MS,
  batchPartitionKey,
  type ServedRow,
  serveByWatermark,
  type ViewDefinition,
  type ViewRow,
} from '../core';
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
    const watermark = manifest?.watermark ?? 0;
    const batchTo = Math.min(to, watermark);
    const dayWidth = BUCKET_WIDTH_MS.day;
    const oldestSpeed = now - this.speedRetentionMs;
    const speedFrom = Math.max(from, watermark, oldestSpeed - (oldestSpeed % dayWidth));
    const [batchDays, speedRows] = await Promise.all([
      manifest === null || from >= batchTo
        ? []
        : Promise.all(
            activeDays(manifest, from, batchTo).map(([day, batchVersion]) =>
              this.batchDay(view, (manifest as Manifest).version, day, batchVersion),
            ),
          ),
      speedFrom < to
        ? this.reads.run(`speed|${view.name}|${view.version}|${speedFrom}|${to}`, () =>
            this.speed.readRows(view, speedFrom, to, now),
          )
        : [],
    ]);
    const batchRows = batchDays.flat().filter((row) => row.bucket >= from && row.bucket < batchTo);
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
