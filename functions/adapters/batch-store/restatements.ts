import { gunzipSync } from 'node:zlib';
import type { GroupValue } from '../../core';
import {
  dayOf,
  RUN_ID,
  restatementRunKey,
  restatementRunsSince,
  restatementsKey,
  restatementsOfRun,
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
  /**
   * The served headers the page went through, in recording order (the one it stopped in included): a
   * later page starts again with the one its cursor names.
   */
  readonly runs: ServedRun[];
}

/** A header whose manifest write took effect (or may have: `unknown`), and why it was abandoned, if it was. */
export interface ServedRun {
  readonly run: LedgerRun;
  /** Why its recording can never complete (clean-up gave up on it); null for one complete or going on. */
  readonly abandoned: string | null;
}

export interface ListOptions {
  /** At most this many (default 1000). */
  readonly limit?: number;
  /** From the `cursor` a previous page gave. */
  readonly cursor?: string;
  /** Only buckets in [from, to). */
  readonly from?: number;
  readonly to?: number;
  /**
   * At most this many ledger items unpacked (default MAX_LEDGER_ITEMS_READ): the page stops there, with a
   * cursor. Items of days outside [from, to) are never read, and those of its first and last day that
   * hold none of its buckets are not counted.
   */
  readonly maxItems?: number;
  /** At most this many headers read (default MAX_LEDGER_HEADERS_READ): the page stops there, with a cursor. */
  readonly maxHeaders?: number;
}

/**
 * Ledger items one listing reads at most: each is up to ~350 KB, so a page costs a bounded few MB and
 * seconds however large the ledger is, and says where to go on.
 */
export const MAX_LEDGER_ITEMS_READ = 32;
/**
 * Headers one listing reads at most: each is a small item, but one with entries costs a query of its
 * days' items (an hourly run's week is 168 headers, most of them with none).
 */
export const MAX_LEDGER_HEADERS_READ = 200;

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

/**
 * A page position: the ledger item (its key's parts) and the index of the next entry in it; a day of ''
 * names the start of the header (at, runId), before any of its items.
 */
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
        RUN_ID.test(runId) &&
        typeof day === 'string' &&
        typeof part === 'number' &&
        Number.isSafeInteger(index) &&
        (index as number) >= 0
      ) {
        // Refuses what no key has (a bad time, day or part): what is left makes a valid key.
        if (day === '' && part === 0 && index === 0) restatementRunKey('', at, runId);
        else restatementsKey('', at, runId, day, part);
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
 * nothing of it was ever served), `unknown` (its revision's manifest is no longer kept: taken as served),
 * or `abandoned` (taken as served, its recording never to complete: clean-up gave up on it, saying why).
 */
export type LedgerRunState = 'served' | 'pending' | 'lost' | 'unknown' | 'abandoned';

/** A header and where it stands; `abandoned` says why when it is. */
export interface LedgerRunWithState {
  readonly run: LedgerRun;
  readonly state: LedgerRunState;
  readonly abandoned?: string;
}

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
   * writer recorded more) or abandoned: false then, and the caller stops. The same progress may be
   * written twice.
   */
  async advance(run: LedgerRun): Promise<boolean> {
    return this.table.putIf(restatementRunKey(run.view, run.at, run.runId), runItem(run), {
      condition: '#complete = :false AND #throughDay <= :through AND attribute_not_exists(#abandoned)',
      names: { '#complete': 'complete', '#throughDay': 'throughDay', '#abandoned': 'abandoned' },
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

  /**
   * Every header recorded at or after `since`, with where each stands: all of them, for clean-up (its
   * `since` is the oldest kept replaced manifest's time). A listing reads a bounded page of them (`list`).
   */
  async runStates(view: string, since: number): Promise<LedgerRunWithState[]> {
    const range = restatementRunsSince(view, since);
    const items: Item[] = [];
    for await (const item of this.table.query(range.pk, { range, consistent: true })) items.push(item);
    const stateOf = this.stateResolver(view);
    const states: LedgerRunWithState[] = [];
    for (const item of items) states.push(await stateOf(item));
    return states;
  }

  /**
   * Where each header stands, the current manifest read once (and only for an incomplete header): a
   * complete one was brought forward after its manifest write, an abandoned one was served.
   */
  private stateResolver(view: string): (item: Item) => Promise<LedgerRunWithState> {
    let current: Manifest | null | undefined;
    return async (item) => {
      const run = runOf(view, item);
      const abandoned = item.abandoned?.S;
      if (abandoned !== undefined) return { run, state: 'abandoned', abandoned };
      if (run.complete) return { run, state: 'served' };
      if (current === undefined) current = await this.manifests.get(view);
      if (current === null || current.revision < run.revision) return { run, state: 'pending' };
      if (current.revision === run.revision)
        return { run, state: wroteManifest(run, identityOf(current)) ? 'served' : 'lost' };
      const kept = await this.history.get(view, run.revision);
      if (kept === null) return { run, state: 'unknown' };
      return { run, state: wroteManifest(run, identityOf(kept.manifest)) ? 'served' : 'lost' };
    };
  }

  /**
   * The headers of the changes recorded at or after `since` whose manifest write took effect, complete,
   * still being recorded or abandoned, in recording order. A change about to be written, or whose write
   * lost, is left out: readers never saw it. Reads every header: clean-up and tests; the API lists pages.
   */
  async runs(view: string, since: number): Promise<LedgerRun[]> {
    return (await this.runStates(view, since)).flatMap(({ run, state }) => (isServed(state) ? [run] : []));
  }

  /**
   * Marks an incomplete header abandoned, saying why: its recording can never complete (the manifests it
   * diffs are gone). It is listed as such from then on, and clean-up no longer tries it. False when it is
   * complete already.
   */
  async abandon(run: LedgerRun, reason: string): Promise<boolean> {
    const updated = await this.table.updateIf(
      restatementRunKey(run.view, run.at, run.runId),
      'SET #abandoned = :reason',
      {
        condition: '#complete = :false',
        names: { '#abandoned': 'abandoned', '#complete': 'complete' },
        values: { ':reason': { S: reason }, ':false': { BOOL: false } },
      },
    );
    return updated !== null;
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
   * a page of at most `limit` entries, from at most `maxHeaders` headers and `maxItems` unpacked items, the
   * served headers it went through, and the cursor of the next. Per header, only the items of the days
   * [from, to) touches are read (one key range), so a change of many days costs the days asked for.
   */
  async list(view: string, since: number, options: ListOptions = {}): Promise<RestatementsPage> {
    const limit = options.limit ?? 1000;
    const maxItems = options.maxItems ?? MAX_LEDGER_ITEMS_READ;
    const maxHeaders = options.maxHeaders ?? MAX_LEDGER_HEADERS_READ;
    const position = options.cursor === undefined ? null : decodeCursor(options.cursor);
    const days = {
      ...(options.from === undefined ? {} : { fromDay: dayOf(options.from) }),
      ...(options.to === undefined ? {} : { toDay: dayOf(options.to - 1) }),
    };
    const inRange = (bucket: number) =>
      (options.from === undefined || bucket >= options.from) &&
      (options.to === undefined || bucket < options.to);
    const headers = restatementRunsSince(view, since);
    const resumed = position === null ? null : restatementRunKey(view, position[0], position[1]).sk;
    const stateOf = this.stateResolver(view);
    const restatements: Restatement[] = [];
    const runs: ServedRun[] = [];
    let headersRead = 0;
    let itemsRead = 0;
    const query = this.table.query(headers.pk, {
      range: { from: resumed === null || resumed < headers.from ? headers.from : resumed, to: headers.to },
      consistent: true,
      pageSize: maxHeaders + 1,
    });
    for await (const header of query) {
      if (headersRead === maxHeaders) {
        const next = runOf(view, header);
        return { restatements, cursor: encodeCursor([next.at, next.runId, '', 0, 0]), runs };
      }
      headersRead++;
      const { run, state, abandoned } = await stateOf(header);
      if (!isServed(state)) continue;
      runs.push({ run, abandoned: abandoned ?? null });
      // A change recorded whole with no entry has no items.
      if (run.complete && run.entries === 0) continue;
      const range = restatementsOfRun(view, run.at, run.runId, days);
      // Within the header the cursor names: from its item on, and that item from its entry.
      const after =
        position !== null && Table.sortKeyOf(header) === resumed && position[2] !== ''
          ? {
              sk: restatementsKey(view, position[0], position[1], position[2], position[3]).sk,
              index: position[4],
            }
          : null;
      const items = this.table.query(range.pk, {
        range: { from: after === null || after.sk < range.from ? range.from : after.sk, to: range.to },
        consistent: true,
        pageSize: maxItems - itemsRead + 1,
      });
      for await (const item of items) {
        // An item of the range's first or last day that holds none of its buckets is left packed.
        if (
          (options.from !== undefined && Number(item.maxBucket?.N) < options.from) ||
          (options.to !== undefined && Number(item.minBucket?.N) >= options.to)
        )
          continue;
        const day = item.day?.S ?? '';
        const part = Number(item.part?.N);
        if (itemsRead === maxItems)
          return { restatements, cursor: encodeCursor([run.at, run.runId, day, part, 0]), runs };
        itemsRead++;
        const revision = Number(item.revision?.N);
        const packed = JSON.parse(
          gunzipSync(item.entries?.B ?? new Uint8Array()).toString('utf8'),
        ) as Packed[];
        const first = after !== null && after.sk === Table.sortKeyOf(item) ? after.index : 0;
        for (let index = first; index < packed.length; index++) {
          const [bucket, group, measure, old, next, batchVersion, previousBatchVersion, cause] = packed[
            index
          ] as Packed;
          if (!inRange(bucket)) continue;
          if (restatements.length === limit)
            return { restatements, cursor: encodeCursor([run.at, run.runId, day, part, index]), runs };
          restatements.push({
            view,
            bucket,
            group,
            measure,
            old,
            new: next,
            runId: run.runId,
            revision,
            batchVersion,
            previousBatchVersion,
            cause,
            at: run.at,
          });
        }
      }
    }
    return { restatements, cursor: null, runs };
  }
}

/** A state whose change readers saw (or may have): its entries are listed. */
const isServed = (state: LedgerRunState): boolean =>
  state === 'served' || state === 'unknown' || state === 'abandoned';
