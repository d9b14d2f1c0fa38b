import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  paginateQuery,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  BUCKET_WIDTH_MS,
  bucketStart,
  type DistinctSketch,
  dayOf,
  daysBetween,
  distinctMeasureNames,
  type SpeedDeltaRow,
  speedItemWrites,
  speedPartitionKey,
  speedSortKeyRange,
  TABLE_ATTRIBUTES,
  type ViewDefinition,
  type ViewRow,
} from '../core';
import { checkpointAttribute, readCheckpoint, writeUnderCheckpoint } from './checkpointed-write';
import {
  BUCKET_ATTRIBUTE,
  GROUP_ATTRIBUTE,
  itemToRow,
  measureAttribute,
  SKETCH_VERSION_ATTRIBUTE,
  sketchAttribute,
  storedSketch,
} from './dynamo-rows';
import { Table } from './table';

/** One conditional write of a batch's additive measures (those stored by `ADD`) to one speed item. */
export interface SpeedDelta {
  readonly view: ViewDefinition;
  readonly pk: string;
  readonly sk: string;
  readonly shardId: string;
  /** Padded sequence numbers of the first and last record the delta covers. */
  readonly firstSequence: string;
  readonly lastSequence: string;
  /** The delta's counters and, per distinct measure, its values (merged into the item's sketch). */
  readonly row: SpeedDeltaRow;
  /** Epoch seconds after which the item may be deleted. */
  readonly expiresAt: number;
}

/** What a sketch merge reads of a speed item: the shard's checkpoint, the sketch version, the sketches. */
export interface SketchedItemState {
  readonly checkpoint: string | null;
  /** Null: no sketch was ever written. */
  readonly version: number | null;
  /** By distinct measure; a measure with no sketch yet is absent. */
  readonly sketches: ReadonlyMap<string, DistinctSketch>;
}

/** A delta of a view with distinct measures: its counters, and its sketches merged with those read. */
export interface SketchedDelta extends SpeedDelta {
  /** The sketch version read with the sketches merged here. */
  readonly readVersion: number | null;
  readonly sketches: readonly { readonly measure: string; readonly sketch: DistinctSketch }[];
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
  /** What a merge into the item's sketches reads, strongly consistent. */
  readSketched(view: ViewDefinition, pk: string, sk: string, shardId: string): Promise<SketchedItemState>;
  /**
   * ADDs the delta's counters, SETs its merged sketches and moves the checkpoint, only if the
   * checkpoint is below `firstSequence` and the sketch version is still `readVersion` (then bumps it);
   * `conflict` means the item changed since it was read (a redelivery, or another shard's merge).
   */
  mergeDelta(delta: SketchedDelta): Promise<'applied' | 'conflict'>;
  /** Lowers a min (raises a max) when `value` improves on it: idempotent, so safe to repeat. */
  applyExtreme(pk: string, sk: string, measure: string, kind: 'min' | 'max', value: bigint): Promise<void>;
  /** Speed rows of a view for buckets in [from, to), unexpired. */
  readRows(view: ViewDefinition, from: number, to: number, nowMs?: number): Promise<ViewRow[]>;
}

const { partitionKey: PK, sortKey: SK, expiresAt: EXPIRES_AT } = TABLE_ATTRIBUTES;

const key = (pk: string, sk: string): Record<string, AttributeValue> => ({
  [PK]: { S: pk },
  [SK]: { S: sk },
});

export class DynamoSpeedStore implements SpeedStore {
  private readonly table: Table;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.table = new Table(client, tableName);
  }

  async addDelta(delta: SpeedDelta): Promise<'applied' | 'conflict'> {
    return this.writeDelta(delta);
  }

  /** Each merged sketch with its estimate beside it, in the same write: readers read the number. */
  async mergeDelta(delta: SketchedDelta): Promise<'applied' | 'conflict'> {
    return this.writeDelta(
      delta,
      Object.fromEntries(
        delta.sketches.flatMap(({ measure, sketch }) => [
          [sketchAttribute(measure), { B: sketch.encode() }],
          [measureAttribute(measure), { N: sketch.roundedEstimate().toString() }],
        ]),
      ),
      { attribute: SKETCH_VERSION_ATTRIBUTE, read: delta.readVersion },
    );
  }

  private writeDelta(
    delta: SpeedDelta,
    sketches: Record<string, AttributeValue> = {},
    version?: { attribute: string; read: number | null },
  ): Promise<'applied' | 'conflict'> {
    return writeUnderCheckpoint(
      this.table,
      { pk: delta.pk, sk: delta.sk },
      {
        shardId: delta.shardId,
        firstSequence: delta.firstSequence,
        lastSequence: delta.lastSequence,
        set: {
          [BUCKET_ATTRIBUTE]: { N: String(delta.row.bucket) },
          [GROUP_ATTRIBUTE]: { S: JSON.stringify(delta.row.group) },
          [EXPIRES_AT]: { N: String(delta.expiresAt) },
          ...sketches,
        },
        add: speedItemWrites(delta.view, delta.row).adds.map(({ measure, value }) => [
          measureAttribute(measure),
          value.toString(),
        ]),
        ...(version === undefined ? {} : { version }),
      },
    );
  }

  checkpoint(pk: string, sk: string, shardId: string): Promise<string | null> {
    return readCheckpoint(this.table, { pk, sk }, shardId);
  }

  async readSketched(
    view: ViewDefinition,
    pk: string,
    sk: string,
    shardId: string,
  ): Promise<SketchedItemState> {
    const distinct = distinctMeasureNames(view);
    const checkpoint = checkpointAttribute(shardId);
    const item =
      (await this.table.get({ pk, sk }, true, [
        checkpoint,
        SKETCH_VERSION_ATTRIBUTE,
        ...distinct.map(sketchAttribute),
      ])) ?? {};
    const version = item[SKETCH_VERSION_ATTRIBUTE]?.N;
    const sketches = new Map<string, DistinctSketch>();
    for (const name of distinct) {
      const sketch = storedSketch(item, name);
      if (sketch !== undefined) sketches.set(name, sketch);
    }
    return {
      checkpoint: item[checkpoint]?.S ?? null,
      version: version === undefined ? null : Number(version),
      sketches,
    };
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

  /**
   * Reads each item's values, never its sketches (`d_*`, up to 64 KB each): a distinct measure's value is
   * the estimate its last merge wrote beside the sketch.
   */
  async readRows(view: ViewDefinition, from: number, to: number, nowMs = Date.now()): Promise<ViewRow[]> {
    const rows: ViewRow[] = [];
    const { start, end } = speedSortKeyRange(from, to);
    const projected = [
      BUCKET_ATTRIBUTE,
      GROUP_ATTRIBUTE,
      EXPIRES_AT,
      ...Object.keys(view.measures).map(measureAttribute),
    ];
    for (const day of daysBetween(from, to)) {
      const pk = speedPartitionKey(view, day);
      for await (const page of paginateQuery(
        { client: this.client },
        {
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :start AND :end',
          ProjectionExpression: projected.map((_, index) => `#p${index}`).join(', '),
          ExpressionAttributeNames: {
            '#pk': PK,
            '#sk': SK,
            ...Object.fromEntries(projected.map((name, index) => [`#p${index}`, name])),
          },
          ExpressionAttributeValues: { ':pk': { S: pk }, ':start': { S: start }, ':end': { S: end } },
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
          // The bucket only: an item's sketches may be tens of KB.
          ProjectionExpression: '#bucket',
          ExpressionAttributeNames: { '#pk': PK, '#bucket': BUCKET_ATTRIBUTE },
          ExpressionAttributeValues: { ':pk': { S: speedPartitionKey(view, dayOf(dayStart)) } },
          ScanIndexForward: false,
          Limit: 1,
        }),
      );
      const bucket = Items?.[0]?.[BUCKET_ATTRIBUTE]?.N;
      if (bucket !== undefined) return Number(bucket);
    }
    return null;
  }
}
