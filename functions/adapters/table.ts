import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  paginateQuery,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import { type SortKeyRange, TABLE_ATTRIBUTES, type TableKey } from '../core/keys';
import { itemBytes } from './dynamo-rows';

export type Item = Record<string, AttributeValue>;

const { partitionKey: PK, sortKey: SK } = TABLE_ATTRIBUTES;

/**
 * What an update's or a condition's expression refers to. In every expression `#pk` and `#sk` name the
 * table's key attributes; other names and values are the caller's.
 */
export interface Expression {
  readonly names?: Readonly<Record<string, string>>;
  readonly values?: Readonly<Record<string, AttributeValue>>;
}

/** A write's condition and what its expressions refer to. */
export type Condition = Expression & { readonly condition: string };

export interface QueryOptions {
  /** Only the sort keys in this range (its `pk` is the partition's). */
  readonly range?: Omit<SortKeyRange, 'pk'>;
  readonly consistent?: boolean;
  /** Items per page: a reader that stops early reads no more. */
  readonly pageSize?: number;
  /** Sort keys in descending order. */
  readonly descending?: boolean;
  /** Only these attributes of each item (the sort key is always included). */
  readonly projection?: readonly string[];
}

/** BatchWriteItem's limits: 25 requests and 16 MB a call. */
const BATCH_WRITE_ITEMS = 25;
const BATCH_WRITE_BYTES = 16 * 1024 * 1024;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A write refused on its condition gives null; any other error is thrown. */
async function unlessConditionFails<T>(write: Promise<T>): Promise<T | null> {
  try {
    return await write;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return null;
    throw error;
  }
}

/** The one DynamoDB table, by `{ pk, sk }` keys from `../core`: every item store writes through it. */
export class Table {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly name: string,
  ) {}

  /** The table's key attributes for a key. */
  static key(key: TableKey): Item {
    return { [PK]: { S: key.pk }, [SK]: { S: key.sk } };
  }

  /** An item's sort key. */
  static sortKeyOf(item: Item): string {
    return item[SK]?.S ?? '';
  }

  /** An item, or only its `projection` attributes (each by a name of its own: some are reserved words). */
  async get(key: TableKey, consistent = false, projection?: readonly string[]): Promise<Item | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.name,
        Key: Table.key(key),
        ConsistentRead: consistent,
        ...(projection === undefined
          ? {}
          : {
              ProjectionExpression: projection.map((_, index) => `#p${index}`).join(', '),
              ExpressionAttributeNames: Object.fromEntries(
                projection.map((name, index) => [`#p${index}`, name]),
              ),
            }),
      }),
    );
    return Item;
  }

  async put(key: TableKey, attributes: Item): Promise<void> {
    await this.client.send(
      new PutItemCommand({ TableName: this.name, Item: { ...Table.key(key), ...attributes } }),
    );
  }

  /** Puts the item if `condition` holds; false if DynamoDB refused it on the condition. */
  async putIf(key: TableKey, attributes: Item, condition: Condition): Promise<boolean> {
    const put = this.client.send(
      new PutItemCommand({
        TableName: this.name,
        Item: { ...Table.key(key), ...attributes },
        ConditionExpression: condition.condition,
        ...expressionAttributes([condition.condition], condition),
      }),
    );
    return (await unlessConditionFails(put)) !== null;
  }

  /** Updates an item; a failed `condition` throws ConditionalCheckFailedException. */
  async update(
    key: TableKey,
    update: string,
    expression: Expression & { readonly condition?: string } = {},
  ): Promise<void> {
    await this.sendUpdate(key, update, expression);
  }

  /**
   * Updates the item if its condition holds; null if the condition refused it. Otherwise the item as
   * updated when `returnItem` asks for it (the whole item comes back in the answer), else `{}`.
   */
  async updateIf(
    key: TableKey,
    update: string,
    condition: Condition & { readonly returnItem?: boolean },
  ): Promise<Item | null> {
    const answer = await unlessConditionFails(this.sendUpdate(key, update, condition, condition.returnItem));
    return answer === null ? null : (answer.Attributes ?? {});
  }

  /** The items of a partition, in sort-key order, page by page as the reader goes on. */
  async *query(pk: string, options: QueryOptions = {}): AsyncIterable<Item> {
    for await (const page of this.pages(pk, options)) yield* page.Items ?? [];
  }

  /** How many items a partition holds (in `range`, if given). */
  async count(pk: string, options: Omit<QueryOptions, 'pageSize' | 'descending'> = {}): Promise<number> {
    let count = 0;
    for await (const page of this.pages(pk, options, 'COUNT')) count += page.Count ?? 0;
    return count;
  }

  async delete(key: TableKey): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.name, Key: Table.key(key) }));
  }

  /** BatchWriteItem in calls within its limits, retrying what DynamoDB leaves unprocessed. */
  async batchWrite(requests: readonly WriteRequest[]): Promise<void> {
    const limit = pLimit(8);
    await Promise.all(
      batchWriteCalls(requests).map((call) =>
        limit(async () => {
          let pending = call;
          for (let attempt = 0; pending.length > 0; attempt++) {
            if (attempt > 0) await sleep(Math.min(2_000, 50 * 2 ** attempt));
            if (attempt > 10) throw new Error(`BatchWriteItem left ${pending.length} items unprocessed`);
            const { UnprocessedItems } = await this.client.send(
              new BatchWriteItemCommand({ RequestItems: { [this.name]: pending } }),
            );
            pending = UnprocessedItems?.[this.name] ?? [];
          }
        }),
      ),
    );
  }

  private sendUpdate(
    key: TableKey,
    update: string,
    expression: Expression & { readonly condition?: string },
    returnItem = false,
  ) {
    const { condition } = expression;
    return this.client.send(
      new UpdateItemCommand({
        TableName: this.name,
        Key: Table.key(key),
        UpdateExpression: update,
        ...(condition === undefined ? {} : { ConditionExpression: condition }),
        ...expressionAttributes([update, condition ?? ''], expression),
        ...(returnItem ? { ReturnValues: 'ALL_NEW' as const } : {}),
      }),
    );
  }

  private pages(pk: string, options: QueryOptions, select?: 'COUNT') {
    const { range } = options;
    const keyCondition = `#pk = :pk${range === undefined ? '' : ' AND #sk BETWEEN :from AND :to'}`;
    // Every projected attribute by a name of its own: some (`revision`, `at`) are reserved words.
    const projected = options.projection === undefined ? undefined : [SK, ...options.projection];
    const projection = projected?.map((_, index) => `#p${index}`).join(', ');
    return paginateQuery(
      { client: this.client, ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }) },
      {
        TableName: this.name,
        KeyConditionExpression: keyCondition,
        ...(projection === undefined ? {} : { ProjectionExpression: projection }),
        ...expressionAttributes([keyCondition], {
          ...(projected === undefined
            ? {}
            : { names: Object.fromEntries(projected.map((name, index) => [`#p${index}`, name])) }),
          values: {
            ':pk': { S: pk },
            ...(range === undefined ? {} : { ':from': { S: range.from }, ':to': { S: range.to } }),
          },
        }),
        ...(options.consistent ? { ConsistentRead: true } : {}),
        ...(options.descending ? { ScanIndexForward: false } : {}),
        ...(select === undefined ? {} : { Select: select }),
      },
    );
  }
}

/**
 * The names and values of a request's expressions, left out when empty (DynamoDB refuses empty maps),
 * with `#pk` and `#sk` added where an expression uses them (it refuses unused names too).
 */
function expressionAttributes(expressions: readonly string[], { names = {}, values = {} }: Expression) {
  const text = expressions.join(' ');
  const allNames = {
    ...(text.includes('#pk') ? { '#pk': PK } : {}),
    ...(text.includes('#sk') ? { '#sk': SK } : {}),
    ...names,
  };
  return {
    ...(Object.keys(allNames).length === 0 ? {} : { ExpressionAttributeNames: allNames }),
    ...(Object.keys(values).length === 0 ? {} : { ExpressionAttributeValues: { ...values } }),
  };
}

/** Requests grouped into calls of at most 25 items and 16 MB. */
function batchWriteCalls(requests: readonly WriteRequest[]): WriteRequest[][] {
  const calls: WriteRequest[][] = [];
  let callBytes = 0;
  for (const request of requests) {
    const bytes = itemBytes(request.PutRequest?.Item ?? request.DeleteRequest?.Key ?? {});
    const last = calls.at(-1);
    if (last === undefined || last.length === BATCH_WRITE_ITEMS || callBytes + bytes > BATCH_WRITE_BYTES) {
      calls.push([request]);
      callBytes = bytes;
    } else {
      last.push(request);
      callBytes += bytes;
    }
  }
  return calls;
}
