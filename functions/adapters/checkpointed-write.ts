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
  const update = `SET ${sets.join(', ')}${adds.length > 0 ? ` ADD ${adds.join(', ')}` : ''}`;
  return { update, condition: 'attribute_not_exists(#ck) OR #ck < :first', names, values };
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
