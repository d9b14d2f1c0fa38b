import type {
  SketchedDelta,
  SketchedItemState,
  SpeedDelta,
  SpeedStore,
} from '../functions/adapters/dynamo-speed-store';
import {
  DistinctSketch,
  type Measure,
  MONOIDS,
  monoidOf,
  speedItemWrites,
  type ViewDefinition,
  type ViewRow,
} from '../functions/core';

interface Item {
  /** As DynamoDB's item reads: a distinct count is the estimate its last merge wrote. */
  row: ViewRow;
  checkpoints: Map<string, string>;
  /** Encoded, as DynamoDB holds them: a merge works on a copy. */
  sketches: Map<string, Buffer>;
  sketchVersion: number | null;
}

/** The speed store's semantics (conditional ADD per shard checkpoint) in memory: compute without I/O. */
export class MemorySpeedStore implements SpeedStore {
  readonly items = new Map<string, Item>();
  writes = 0;
  /** Strongly consistent reads before a sketch merge (views with a distinct measure only). */
  reads = 0;

  reset(): void {
    this.items.clear();
    this.writes = 0;
    this.reads = 0;
  }

  async addDelta(delta: SpeedDelta): Promise<'applied' | 'conflict'> {
    this.writes++;
    const id = `${delta.pk}|${delta.sk}`;
    const item = this.items.get(id);
    const checkpoint = item?.checkpoints.get(delta.shardId);
    if (checkpoint !== undefined && checkpoint >= delta.firstSequence) return 'conflict';
    if (item === undefined) {
      // A distinct count's delta value is replaced by its sketch's estimate in mergeDelta.
      const { bucket, group, values } = delta.row;
      this.items.set(id, {
        row: { bucket, group, values },
        checkpoints: new Map([[delta.shardId, delta.lastSequence]]),
        sketches: new Map(),
        sketchVersion: null,
      });
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

  async readSketched(
    _view: ViewDefinition,
    pk: string,
    sk: string,
    shardId: string,
  ): Promise<SketchedItemState> {
    this.reads++;
    const item = this.items.get(`${pk}|${sk}`);
    const sketches = new Map<string, DistinctSketch>();
    for (const [measure, encoded] of item?.sketches ?? [])
      sketches.set(measure, DistinctSketch.decode(encoded));
    return {
      checkpoint: item?.checkpoints.get(shardId) ?? null,
      version: item?.sketchVersion ?? null,
      sketches,
    };
  }

  async mergeDelta(delta: SketchedDelta): Promise<'applied' | 'conflict'> {
    const id = `${delta.pk}|${delta.sk}`;
    if ((this.items.get(id)?.sketchVersion ?? null) !== delta.readVersion) {
      this.writes++;
      return 'conflict';
    }
    // The counters as addDelta applies them; the sketch stands in for the distinct counts.
    const written = await this.addDelta(delta);
    if (written === 'conflict') return written;
    const item = this.items.get(id) as Item;
    const estimates: Record<string, bigint> = {};
    for (const { measure, sketch } of delta.sketches) {
      item.sketches.set(measure, sketch.encode());
      estimates[measure] = sketch.roundedEstimate();
    }
    item.row = { ...item.row, values: { ...item.row.values, ...estimates } };
    item.sketchVersion = (delta.readVersion ?? 0) + 1;
    return 'applied';
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
      .filter(({ row }) => row.bucket >= from && row.bucket < to)
      .map(({ row }) => row);
  }
}
