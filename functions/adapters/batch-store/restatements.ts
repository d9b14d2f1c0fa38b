import { gunzipSync } from 'node:zlib';
import type { GroupValue } from '../../core';
import {
  LEDGER_RUN_ID,
  restatementRunKey,
  restatementRunsSince,
  restatementsKey,
  restatementsSince,
} from '../../core/keys';
import {
  type LedgerRun,
  type ManifestIdentity,
  type RestatedValue,
  type RestatementCause,
  wroteManifest,
} from '../../core/restatements';
import { itemBytes } from '../dynamo-rows';
import { type Item, Table } from '../table';
import { type Manifest, Manifests } from './manifest';
import { ManifestHistory } from './manifest-history';
import { MAX_PACKED_ITEM_BYTES, packRows } from './row-packs';

export type { LedgerRun } from '../../core/restatements';

/** One exact value a commit or a rollback changed: the restatement ledger's entry. */
export interface Restatement {
  readonly view: string;
  readonly bucket: number;
  /** The group's fields by name; a field the event left out is null. */
  readonly group: Readonly<Record<string, GroupValue>>;
  readonly measure: string;
  readonly old: number | string | null;
  readonly new: number | string | null;
  /** The run that committed the change (a rollback's id: `rollback-r<revision>`). */
  readonly runId: string;
  /** The manifest revision the change took effect in: readers of an earlier revision saw `old`. */
  readonly revision: number;
  /** The day version now served: the new one, or the one rolled back to. */
  readonly batchVersion: string;
  /** The day version served before. */
  readonly previousBatchVersion: string;
  readonly cause: RestatementCause;
  /** When it was recorded: the commit's (or rollback's) time, epoch milliseconds. */
  readonly at: number;
}

/** A restated value as recorded: its day's versions and its cause (one commit may have several causes). */
export interface RestatementEntry extends RestatedValue {
  readonly batchVersion: string;
  readonly previousBatchVersion: string;
  readonly cause: RestatementCause;
}

export interface RestatementsPage {
  readonly restatements: Restatement[];
  /** Where the next page starts; null when there is no more. */
  readonly cursor: string | null;
}

export interface ListOptions {
  /** At most this many (default 1000). */
  readonly limit?: number;
  /** From the `cursor` a previous page gave. */
  readonly cursor?: string;
  /** Only buckets in [from, to). */
  readonly from?: number;
  readonly to?: number;
  /** At most this many ledger items read (default MAX_LEDGER_ITEMS_READ): the page stops there, with a cursor. */
  readonly maxItems?: number;
}

/**
 * Ledger items one listing reads at most: each is up to ~350 KB, so a page costs a bounded few MB and
 * seconds however large the ledger is, and says where to go on.
 */
export const MAX_LEDGER_ITEMS_READ = 32;

/** An entry as packed: the fields a chunk's item does not already hold. */
type Packed = [
  bucket: number,
  group: Record<string, GroupValue>,
  measure: string,
  old: number | string | null,
  next: number | string | null,
  batchVersion: string,
  previousBatchVersion: string,
  cause: RestatementCause,
];

/** A page position: the ledger item (its key's parts) and the index of the next entry in it. */
type Position = [at: number, runId: string, day: string, part: number, index: number];

const encodeCursor = (position: Position) =>
  Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');

/**
 * The position a cursor names, each part checked and the item's key rebuilt from them (so a forged one
 * names a valid key, or is refused); a RangeError when it is not one this store could have given.
 */
export function decodeCursor(cursor: string): Position {
  try {
    const parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(parts) && parts.length === 5) {
      const [at, runId, day, part, index] = parts as unknown[];
      if (
        typeof at === 'number' &&
        typeof runId === 'string' &&
        LEDGER_RUN_ID.test(runId) &&
        typeof day === 'string' &&
        typeof part === 'number' &&
        Number.isSafeInteger(index) &&
        (index as number) >= 0
      ) {
        // Refuses what no key has (a bad time, day or part): what is left makes a valid key.
        restatementsKey('', at, runId, day, part);
        return [at, runId, day, part, index as number];
      }
    }
  } catch {
    // refused below
  }
  throw new RangeError('not a cursor this API gave');
}

/** A header's attributes. */
const runItem = (run: LedgerRun): Item => ({
  runId: { S: run.runId },
  at: { N: String(run.at) },
  revision: { N: String(run.revision) },
  previousRevision: { N: String(run.previousRevision) },
  cause: { S: run.cause },
  watermarkBefore: { N: String(run.watermark.before) },
  watermarkAfter: { N: String(run.watermark.after) },
  complete: { BOOL: run.complete },
  throughDay: { S: run.throughDay },
  entries: { N: String(run.entries) },
});

const runOf = (view: string, item: Item): LedgerRun => ({
  view,
  runId: item.runId?.S ?? '',
  at: Number(item.at?.N),
  revision: Number(item.revision?.N),
  previousRevision: Number(item.previousRevision?.N),
  cause: item.cause?.S as RestatementCause,
  watermark: { before: Number(item.watermarkBefore?.N), after: Number(item.watermarkAfter?.N) },
  complete: item.complete?.BOOL === true,
  throughDay: item.throughDay?.S ?? '',
  entries: Number(item.entries?.N ?? 0),
});

/**
 * Where a header stands: `served` (its manifest write took effect: complete, or being recorded),
 * `pending` (its manifest write has not happened, and may yet), `lost` (another write took its revision:
 * nothing of it was ever served), or `unknown` (its revision's manifest is no longer kept: taken as served).
 */
export type LedgerRunState = 'served' | 'pending' | 'lost' | 'unknown';

const identityOf = (manifest: Manifest): ManifestIdentity => ({
  revision: manifest.revision,
  lastRunId: manifest.lastRunId,
  committedAt: manifest.committedAt,
  rolledBack: manifest.rolledBackTo !== undefined,
});

/**
 * The restatement ledger: per view, every exact value a commit or a rollback changed. Each change has a
 * header (written before its manifest write, brought forward as its days are recorded) and its entries
 * as gzip JSON items per day, keyed by (view, time, run, day, part): a resumed or concurrent recording of
 * the same change writes the same items. Items carry their least and greatest bucket, so a listing over
 * a bucket range skips the others unread.
 */
export class Restatements {
  private readonly manifests: Manifests;
  private readonly history: ManifestHistory;

  constructor(private readonly table: Table) {
    this.manifests = new Manifests(table);
    this.history = new ManifestHistory(table);
  }

  /** Writes a change's header before its manifest write; a header already there is kept. */
  async begin(run: LedgerRun): Promise<void> {
    await this.table.putIf(restatementRunKey(run.view, run.at, run.runId), runItem(run), {
      condition: 'attribute_not_exists(#pk)',
    });
  }

  /** The header of the change recorded at `at` by `runId`, or null. */
  async header(view: string, at: number, runId: string): Promise<LedgerRun | null> {
    const item = await this.table.get(restatementRunKey(view, at, runId), true);
    return item === undefined ? null : runOf(view, item);
  }

  /**
   * Brings a header forward to `run`'s progress unless it is complete or further on already (another
   * writer recorded more): false then, and the caller stops. The same progress may be written twice.
   */
  async advance(run: LedgerRun): Promise<boolean> {
    return this.table.putIf(restatementRunKey(run.view, run.at, run.runId), runItem(run), {
      condition: '#complete = :false AND #throughDay <= :through',
      names: { '#complete': 'complete', '#throughDay': 'throughDay' },
      values: { ':false': { BOOL: false }, ':through': { S: run.throughDay } },
    });
  }

  /** Records one day's entries of a change; the same day's entries always make the same items. */
  async recordDay(run: LedgerRun, day: string, entries: readonly RestatementEntry[]): Promise<void> {
    if (entries.length === 0) return;
    let minBucket = Number.POSITIVE_INFINITY;
    let maxBucket = Number.NEGATIVE_INFINITY;
    for (const { bucket } of entries) {
      minBucket = Math.min(minBucket, bucket);
      maxBucket = Math.max(maxBucket, bucket);
    }
    const attributesOf = (part: number, packed: Uint8Array): Item => ({
      runId: { S: run.runId },
      at: { N: String(run.at) },
      revision: { N: String(run.revision) },
      day: { S: day },
      part: { N: String(part) },
      minBucket: { N: String(minBucket) },
      maxBucket: { N: String(maxBucket) },
      entries: { B: packed },
    });
    const budget =
      MAX_PACKED_ITEM_BYTES -
      itemBytes({
        ...Table.key(restatementsKey(run.view, run.at, run.runId, day, 0)),
        ...attributesOf(0, new Uint8Array()),
      });
    const packs = packRows(
      entries.map((entry) =>
        JSON.stringify([
          entry.bucket,
          entry.group,
          entry.measure,
          entry.old,
          entry.new,
          entry.batchVersion,
          entry.previousBatchVersion,
          entry.cause,
        ] satisfies Packed),
      ),
      budget,
    );
    // One PutItem per part (a day packs into one or a few): the steps and the API hold PutItem.
    for (const [part, packed] of packs.entries())
      await this.table.put(
        restatementsKey(run.view, run.at, run.runId, day, part),
        attributesOf(part, packed),
      );
  }

  /** Every header recorded at or after `since`, with where each stands (clean-up resolves them). */
  async runStates(view: string, since: number): Promise<{ run: LedgerRun; state: LedgerRunState }[]> {
    const range = restatementRunsSince(view, since);
    const runs: LedgerRun[] = [];
    for await (const item of this.table.query(range.pk, { range, consistent: true }))
      runs.push(runOf(view, item));
    let current: Manifest | null | undefined;
    const states: { run: LedgerRun; state: LedgerRunState }[] = [];
    for (const run of runs) {
      // A complete header was brought forward after its manifest write: served.
      if (run.complete) {
        states.push({ run, state: 'served' });
        continue;
      }
      if (current === undefined) current = await this.manifests.get(view);
      let state: LedgerRunState;
      if (current === null || current.revision < run.revision) state = 'pending';
      else if (current.revision === run.revision)
        state = wroteManifest(run, identityOf(current)) ? 'served' : 'lost';
      else {
        const kept = await this.history.get(view, run.revision);
        state = kept === null ? 'unknown' : wroteManifest(run, identityOf(kept.manifest)) ? 'served' : 'lost';
      }
      states.push({ run, state });
    }
    return states;
  }

  /**
   * The headers of the changes recorded at or after `since` whose manifest write took effect, complete or
   * still being recorded, in recording order. A change about to be written, or whose write lost, is left
   * out: readers never saw it.
   */
  async runs(view: string, since: number): Promise<LedgerRun[]> {
    return (await this.runStates(view, since)).flatMap(({ run, state }) =>
      state === 'served' || state === 'unknown' ? [run] : [],
    );
  }

  /** Deletes headers whose manifest write lost (BatchWriteItem: clean-up's write action). */
  async forget(runs: readonly LedgerRun[]): Promise<void> {
    await this.table.batchWrite(
      runs.map((run) => ({
        DeleteRequest: { Key: Table.key(restatementRunKey(run.view, run.at, run.runId)) },
      })),
    );
  }

  /**
   * The entries recorded at or after `since`, in recording order, with buckets in [from, to) when given;
   * a page of at most `limit` entries from at most `maxItems` ledger items, and the cursor of the next.
   */
  async list(view: string, since: number, options: ListOptions = {}): Promise<RestatementsPage> {
    const limit = options.limit ?? 1000;
    const maxItems = options.maxItems ?? MAX_LEDGER_ITEMS_READ;
    const position = options.cursor === undefined ? null : decodeCursor(options.cursor);
    const after =
      position === null
        ? null
        : {
            sk: restatementsKey(view, position[0], position[1], position[2], position[3]).sk,
            index: position[4],
          };
    const range = restatementsSince(view, since);
    const restatements: Restatement[] = [];
    const query = this.table.query(range.pk, {
      range: { from: after === null || after.sk < range.from ? range.from : after.sk, to: range.to },
      consistent: true,
      pageSize: maxItems + 1,
    });
    let read = 0;
    for await (const item of query) {
      const sk = Table.sortKeyOf(item);
      const runId = item.runId?.S ?? '';
      const at = Number(item.at?.N);
      const day = item.day?.S ?? '';
      const part = Number(item.part?.N);
      if (read === maxItems) return { restatements, cursor: encodeCursor([at, runId, day, part, 0]) };
      read++;
      // An item wholly outside [from, to) is left packed.
      if (options.from !== undefined && Number(item.maxBucket?.N) < options.from) continue;
      if (options.to !== undefined && Number(item.minBucket?.N) >= options.to) continue;
      const revision = Number(item.revision?.N);
      const packed = JSON.parse(gunzipSync(item.entries?.B ?? new Uint8Array()).toString('utf8')) as Packed[];
      const first = after !== null && after.sk === sk ? after.index : 0;
      for (let index = first; index < packed.length; index++) {
        const [bucket, group, measure, old, next, batchVersion, previousBatchVersion, cause] = packed[
          index
        ] as Packed;
        if (options.from !== undefined && bucket < options.from) continue;
        if (options.to !== undefined && bucket >= options.to) continue;
        if (restatements.length === limit)
          return { restatements, cursor: encodeCursor([at, runId, day, part, index]) };
        restatements.push({
          view,
          bucket,
          group,
          measure,
          old,
          new: next,
          runId,
          revision,
          batchVersion,
          previousBatchVersion,
          cause,
          at,
        });
      }
    }
    return { restatements, cursor: null };
  }
}
