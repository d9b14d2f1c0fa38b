import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  paginateQuery,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  BUCKET_WIDTH_MS,
  bucketStart,
  dayOf,
  daysBetween,
  speedItemWrites,
  speedPartitionKey,
  speedSortKeyRange,
  TABLE_ATTRIBUTES,
  type ViewDefinition,
  type ViewRow,
} from '../core';
import { BUCKET_ATTRIBUTE, GROUP_ATTRIBUTE, itemToRow, measureAttribute } from './dynamo-rows';

/** One conditional write of a batch's additive measures (those stored by `ADD`) to one speed item. */
export interface SpeedDelta {
  readonly view: ViewDefinition;
  readonly pk: string;
  readonly sk: string;
  readonly shardId: string;
  /** Padded sequence numbers of the first and last record the delta covers. */
  readonly firstSequence: string;
  readonly lastSequence: string;
  readonly row: ViewRow;
  /** Epoch seconds after which the item may be deleted. */
  readonly expiresAt: number;
}

/** The speed layer's storage; DynamoDB in AWS and locally (dynalite). */
export interface SpeedStore {
  /**
   * ADDs the delta and moves the shard's checkpoint to `lastSequence`, only if the checkpoint is
   * below `firstSequence`; `conflict` means some of these records were applied before.
   */
  addDelta(delta: SpeedDelta): Promise<'applied' | 'conflict'>;
  /** The shard's checkpoint on an item (strongly consistent), or null if the shard never wrote it. */
  checkpoint(pk: string, sk: string, shardId: string): Promise<string | null>;
  /** Lowers a min (raises a max) when `value` improves on it: idempotent, so safe to repeat. */
  applyExtreme(pk: string, sk: string, measure: string, kind: 'min' | 'max', value: bigint): Promise<void>;
  /** Speed rows of a view for buckets in [from, to), unexpired. */
  readRows(view: ViewDefinition, from: number, to: number, nowMs?: number): Promise<ViewRow[]>;
}

const { partitionKey: PK, sortKey: SK, expiresAt: EXPIRES_AT } = TABLE_ATTRIBUTES;
/** A top-level attribute per shard: a nested map fails on an item's first write ("document path invalid"). */
export const checkpointAttribute = (shardId: string): string => `ck_${shardId}`;

const key = (pk: string, sk: string): Record<string, AttributeValue> => ({
  [PK]: { S: pk },
  [SK]: { S: sk },
});

export class DynamoSpeedStore implements SpeedStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async addDelta(delta: SpeedDelta): Promise<'applied' | 'conflict'> {
    const names: Record<string, string> = {
      '#ck': checkpointAttribute(delta.shardId),
      '#bucket': BUCKET_ATTRIBUTE,
      '#grp': GROUP_ATTRIBUTE,
      '#exp': EXPIRES_AT,
    };
    const values: Record<string, AttributeValue> = {
      ':first': { S: delta.firstSequence },
      ':last': { S: delta.lastSequence },
      ':bucket': { N: String(delta.row.bucket) },
      ':grp': { S: JSON.stringify(delta.row.group) },
      ':exp': { N: String(delta.expiresAt) },
    };
    const adds = speedItemWrites(delta.view, delta.row).adds.map(({ measure, value }, index) => {
      names[`#m${index}`] = measureAttribute(measure);
      values[`:m${index}`] = { N: value.toString() };
      return `#m${index} :m${index}`;
    });
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(delta.pk, delta.sk),
          UpdateExpression: `SET #ck = :last, #bucket = :bucket, #grp = :grp, #exp = :exp${adds.length > 0 ? ` ADD ${adds.join(', ')}` : ''}`,
          ConditionExpression: 'attribute_not_exists(#ck) OR #ck < :first',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return 'applied';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'conflict';
      throw error;
    }
  }

  async checkpoint(pk: string, sk: string, shardId: string): Promise<string | null> {
    const attribute = checkpointAttribute(shardId);
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: key(pk, sk),
        ConsistentRead: true,
        ProjectionExpression: '#ck',
        ExpressionAttributeNames: { '#ck': attribute },
      }),
    );
    return Item?.[attribute]?.S ?? null;
  }

  async applyExtreme(
    pk: string,
    sk: string,
    measure: string,
    kind: 'min' | 'max',
    value: bigint,
  ): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(pk, sk),
          UpdateExpression: 'SET #m = :v',
          ConditionExpression: `attribute_not_exists(#m) OR #m ${kind === 'min' ? '>' : '<'} :v`,
          ExpressionAttributeNames: { '#m': measureAttribute(measure) },
          ExpressionAttributeValues: { ':v': { N: value.toString() } },
        }),
      );
    } catch (error) {
      // The stored value is already at least as extreme: nothing to do.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async readRows(view: ViewDefinition, from: number, to: number, nowMs = Date.now()): Promise<ViewRow[]> {
    const rows: ViewRow[] = [];
    const { start, end } = speedSortKeyRange(from, to);
    for (const day of daysBetween(from, to)) {
      for await (const page of paginateQuery(
        { client: this.client },
        {
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :start AND :end',
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
          ExpressionAttributeValues: {
            ':pk': { S: speedPartitionKey(view, day) },
            ':start': { S: start },
            ':end': { S: end },
          },
        },
      )) {
        for (const item of page.Items ?? []) {
          // TTL deletion is lazy in DynamoDB and absent in dynalite: expired items are filtered here.
          const expiresAt = item[EXPIRES_AT]?.N;
          if (expiresAt !== undefined && Number(expiresAt) * 1000 <= nowMs) continue;
          rows.push(itemToRow(view, item));
        }
      }
    }
    return rows;
  }

  /**
   * The newest bucket the speed layer has counted for a view, looking back `lookbackDays` day
   * partitions from now: its freshness. Null when it has counted nothing in that time.
   */
  async latestBucket(view: ViewDefinition, nowMs = Date.now(), lookbackDays = 2): Promise<number | null> {
    for (let back = 0; back < lookbackDays; back++) {
      const dayStart = bucketStart(nowMs, 'day') - back * BUCKET_WIDTH_MS.day;
      const { Items } = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK },
          ExpressionAttributeValues: { ':pk': { S: speedPartitionKey(view, dayOf(dayStart)) } },
          ScanIndexForward: false,
          Limit: 1,
        }),
      );
      const item = Items?.[0];
      if (item !== undefined) return itemToRow(view, item).bucket;
    }
    return null;
  }
}
