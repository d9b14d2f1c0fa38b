import type { SpeedDelta, SpeedStore } from '../functions/adapters/dynamo-speed-store';
import {
  type Measure,
  MONOIDS,
  monoidOf,
  speedItemWrites,
  type ViewDefinition,
  type ViewRow,
} from '../functions/core';

interface Item {
  row: ViewRow;
  checkpoints: Map<string, string>;
}

/** The speed store's semantics (conditional ADD per shard checkpoint) in memory: compute without I/O. */
export class MemorySpeedStore implements SpeedStore {
  readonly items = new Map<string, Item>();
  writes = 0;

  reset(): void {
    this.items.clear();
    this.writes = 0;
  }

  async addDelta(delta: SpeedDelta): Promise<'applied' | 'conflict'> {
    this.writes++;
    const id = `${delta.pk}|${delta.sk}`;
    const item = this.items.get(id);
    const checkpoint = item?.checkpoints.get(delta.shardId);
    if (checkpoint !== undefined && checkpoint >= delta.firstSequence) return 'conflict';
    if (item === undefined) {
      this.items.set(id, { row: delta.row, checkpoints: new Map([[delta.shardId, delta.lastSequence]]) });
      return 'applied';
    }
    const values = { ...item.row.values };
    // Only the additive measures: extremes arrive through applyExtreme, as in DynamoDB.
    for (const { measure, value } of speedItemWrites(delta.view, delta.row).adds) {
      values[measure] = monoidOf(delta.view.measures[measure] as Measure).plus(
        values[measure] ?? null,
        value,
      );
    }
    item.row = { ...item.row, values };
    item.checkpoints.set(delta.shardId, delta.lastSequence);
    return 'applied';
  }

  async checkpoint(pk: string, sk: string, shardId: string): Promise<string | null> {
    return this.items.get(`${pk}|${sk}`)?.checkpoints.get(shardId) ?? null;
  }

  async applyExtreme(
    pk: string,
    sk: string,
    measure: string,
    kind: 'min' | 'max',
    value: bigint,
  ): Promise<void> {
    this.writes++;
    const item = this.items.get(`${pk}|${sk}`);
    if (item === undefined) return;
    item.row = {
      ...item.row,
      values: { ...item.row.values, [measure]: MONOIDS[kind].plus(item.row.values[measure] ?? null, value) },
    };
  }

  async readRows(_view: ViewDefinition, from: number, to: number): Promise<ViewRow[]> {
    return [...this.items.values()]
      .map((item) => item.row)
      .filter((row) => row.bucket >= from && row.bucket < to);
  }
}
