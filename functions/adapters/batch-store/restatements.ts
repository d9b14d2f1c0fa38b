import { gunzipSync } from 'node:zlib';
import type { GroupValue } from '../../core';
import { restatementsKey, restatementsSince } from '../../core/keys';
import type { RestatedValue, RestatementCause } from '../../core/restatements';
import { itemBytes } from '../dynamo-rows';
import { type Item, Table } from '../table';
import { MAX_PACKED_ITEM_BYTES, packRows } from './row-packs';

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
}

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

/** A page position: the sort key of an item and the index of the next entry in it. */
interface Position {
  readonly sk: string;
  readonly index: number;
}

const encodeCursor = (position: Position) =>
  Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');

/** The position a cursor names; a RangeError when it is not one this store gave. */
export function decodeCursor(cursor: string): Position {
  try {
    const position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Position;
    if (typeof position.sk === 'string' && Number.isSafeInteger(position.index) && position.index >= 0)
      return position;
  } catch {
    // refused below
  }
  throw new RangeError('not a cursor this API gave');
}

/**
 * The restatement ledger: per view, every exact value a commit or a rollback changed. A commit records
 * its entries as gzip JSON chunks under the item size limit, keyed by (view, time, run, chunk): a retried
 * commit step records the same entries at the same time and so rewrites the same items.
 */
export class Restatements {
  constructor(private readonly table: Table) {}

  /** Records what one run (or rollback) restated at `at`; idempotent for the same arguments. */
  async record(view: string, runId: string, at: number, entries: readonly RestatementEntry[]): Promise<void> {
    const attributesOf = (packed: Uint8Array): Item => ({
      runId: { S: runId },
      at: { N: String(at) },
      entries: { B: packed },
    });
    const budget =
      MAX_PACKED_ITEM_BYTES -
      itemBytes({ ...Table.key(restatementsKey(view, at, runId, 0)), ...attributesOf(new Uint8Array()) });
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
    // One PutItem per chunk (a few at most): the commit step is granted PutItem, not BatchWriteItem.
    for (const [chunk, packed] of packs.entries())
      await this.table.put(restatementsKey(view, at, runId, chunk), attributesOf(packed));
  }

  /**
   * The entries recorded at or after `since`, in recording order, with buckets in [from, to) when given;
   * a page of at most `limit`, and the cursor of the next.
   */
  async list(view: string, since: number, options: ListOptions = {}): Promise<RestatementsPage> {
    const limit = options.limit ?? 1000;
    const after = options.cursor === undefined ? null : decodeCursor(options.cursor);
    const range = restatementsSince(view, since);
    const restatements: Restatement[] = [];
    const query = this.table.query(range.pk, {
      range: { from: after === null ? range.from : after.sk, to: range.to },
      consistent: true,
    });
    for await (const item of query) {
      const sk = Table.sortKeyOf(item);
      const runId = item.runId?.S ?? '';
      const at = Number(item.at?.N);
      const packed = JSON.parse(gunzipSync(item.entries?.B ?? new Uint8Array()).toString('utf8')) as Packed[];
      const first = after !== null && after.sk === sk ? after.index : 0;
      for (let index = first; index < packed.length; index++) {
        const [bucket, group, measure, old, next, batchVersion, previousBatchVersion, cause] = packed[
          index
        ] as Packed;
        if (options.from !== undefined && bucket < options.from) continue;
        if (options.to !== undefined && bucket >= options.to) continue;
        if (restatements.length === limit) return { restatements, cursor: encodeCursor({ sk, index }) };
        restatements.push({
          view,
          bucket,
          group,
          measure,
          old,
          new: next,
          runId,
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
