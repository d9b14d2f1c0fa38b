/**
 * Exactly-once counters on at-least-once delivery, stated once for every item the speed function ADDs to
 * (speed items, lateness counts): each item keeps, per shard, the padded sequence number of the last
 * record it counted; a write ADDs only if that checkpoint is below the write's first record, and after a
 * conflict (a redelivery) the caller writes again only what lies above the checkpoint.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { TableKey } from '../core/keys';
import type { Table } from './table';

/** A top-level attribute per shard: a nested map fails on an item's first write ("document path invalid"). */
export const checkpointAttribute = (shardId: string): string => `ck_${shardId}`;

/** DynamoDB's limit on an expression's length (the developer guide's "expression parameters" quotas). */
export const DYNAMODB_EXPRESSION_MAX_BYTES = 4_096;

/** One conditional write to one item: its counters and other attributes, under a shard's checkpoint. */
export interface CheckpointedWrite {
  readonly shardId: string;
  /** Padded sequence numbers of the first and last record the write covers. */
  readonly firstSequence: string;
  readonly lastSequence: string;
  /** Attributes SET as given (the item's key fields, its expiry). */
  readonly set: Readonly<Record<string, AttributeValue>>;
  /** Counters ADDed, by attribute: decimal numbers. */
  readonly add: readonly (readonly [attribute: string, value: string])[];
  /**
   * For a read-merge-write (a sketch): the item's version attribute and the value read (null: absent).
   * The write also needs the version unchanged, and bumps it, so a merge never overwrites another's.
   */
  readonly version?: { readonly attribute: string; readonly read: number | null };
}

/** The UpdateItem request of a write: its update and condition expressions and what they refer to. */
export function checkpointedUpdate(write: CheckpointedWrite) {
  const names: Record<string, string> = { '#ck': checkpointAttribute(write.shardId) };
  const values: Record<string, AttributeValue> = {
    ':first': { S: write.firstSequence },
    ':last': { S: write.lastSequence },
  };
  const sets = ['#ck = :last'];
  for (const [index, [attribute, value]] of Object.entries(write.set).entries()) {
    names[`#s${index}`] = attribute;
    values[`:s${index}`] = value;
    sets.push(`#s${index} = :s${index}`);
  }
  const adds = write.add.map(([attribute, value], index) => {
    names[`#a${index}`] = attribute;
    values[`:a${index}`] = { N: value };
    return `#a${index} :a${index}`;
  });
  let condition = 'attribute_not_exists(#ck) OR #ck < :first';
  if (write.version !== undefined) {
    const { attribute, read } = write.version;
    names['#v'] = attribute;
    values[':vnext'] = { N: String((read ?? 0) + 1) };
    sets.push('#v = :vnext');
    if (read === null) condition = `(${condition}) AND attribute_not_exists(#v)`;
    else {
      values[':v'] = { N: String(read) };
      condition = `(${condition}) AND #v = :v`;
    }
  }
  const update = `SET ${sets.join(', ')}${adds.length > 0 ? ` ADD ${adds.join(', ')}` : ''}`;
  return { update, condition, names, values };
}

/** Writes under the checkpoint: `conflict` means some of these records were counted before. */
export async function writeUnderCheckpoint(
  table: Table,
  key: TableKey,
  write: CheckpointedWrite,
): Promise<'applied' | 'conflict'> {
  const { update, ...condition } = checkpointedUpdate(write);
  // Said here rather than as DynamoDB's ValidationException, which names no item.
  if (Buffer.byteLength(update) > DYNAMODB_EXPRESSION_MAX_BYTES)
    throw new RangeError(
      `update of ${key.pk} ${key.sk} is ${Buffer.byteLength(update)} bytes: over DynamoDB's ${DYNAMODB_EXPRESSION_MAX_BYTES}`,
    );
  return (await table.updateIf(key, update, condition)) === null ? 'conflict' : 'applied';
}

/** The shard's checkpoint on an item (strongly consistent, that attribute only), or null. */
export async function readCheckpoint(table: Table, key: TableKey, shardId: string): Promise<string | null> {
  const attribute = checkpointAttribute(shardId);
  const item = await table.get(key, true, [attribute]);
  return item?.[attribute]?.S ?? null;
}

/** Attempts of a read-merge-write before the batch fails for the item: other shards merging the same item. */
export const MERGE_ATTEMPTS = 8;

/** A read-merge-write refused on every attempt: the item is too hot (many shards merging into it). */
export class MergeContendedError extends Error {
  constructor(
    describe: string,
    readonly attempts: number,
  ) {
    super(`${describe} changed under each of ${attempts} attempts to merge into it`);
    this.name = 'MergeContendedError';
  }
}

/**
 * Applies a shard's batch to one item that merges what it holds (a sketch) once per record: reads the
 * item's state (its checkpoint for the shard, strongly consistent), then `write(state)` writes the
 * records above that checkpoint merged with the state read, conditional on the item being as read;
 * refused, it reads again (another shard wrote meanwhile). `write` gives null when nothing is left to
 * write. Gives the state last read and how many writes were refused (`retries`). Throws
 * `MergeContendedError` after `attempts` refusals: the caller fails the batch for the item, to be retried.
 */
export async function applyAfterRead<State>(
  describe: string,
  read: () => Promise<State>,
  write: (state: State) => Promise<'applied' | 'conflict'> | null,
  attempts = MERGE_ATTEMPTS,
): Promise<{ state: State; retries: number }> {
  for (let attempt = 1; ; attempt++) {
    const state = await read();
    const written = write(state);
    if (written === null || (await written) === 'applied') return { state, retries: attempt - 1 };
    if (attempt >= attempts) throw new MergeContendedError(describe, attempts);
    // A random pause, longer each time: shards retrying together would collide again.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
  }
}

/**
 * Applies a shard's batch to one checkpointed item once per record: all of it, then, after a conflict,
 * only the records above the item's checkpoint. `write(after)` writes the records above `after` (all for
 * null) and gives null when there are none. True when a conflict (a redelivery) was met. A second
 * conflict means the checkpoint moved meanwhile: another reader of the shard.
 */
export async function applyAboveCheckpoint(
  shardId: string,
  write: (after: string | null) => Promise<'applied' | 'conflict'> | null,
  checkpoint: () => Promise<string | null>,
): Promise<boolean> {
  let after: string | null = null;
  for (let attempt = 0; ; attempt++) {
    const written = write(after);
    if (written === null || (await written) === 'applied') return attempt > 0;
    if (attempt === 1)
      throw new Error(`checkpoint of ${shardId} moved during the batch: is the shard read twice?`);
    after = await checkpoint();
  }
}
