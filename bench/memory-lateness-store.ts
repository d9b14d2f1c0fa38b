import type { LatenessDelta, LatenessStore } from '../functions/adapters/lateness-store';
import { emptyViewLateness, mergeViewLateness, type ViewLateness } from '../functions/core/lateness';

const HOUR_MS = 3_600_000;

/** The lateness store's semantics (conditional ADD per shard checkpoint, an item per view, hour and shard) in memory. */
export class MemoryLatenessStore implements LatenessStore {
  private readonly items = new Map<
    string,
    { hour: number; view: string; lateness: ViewLateness; checkpoint: string }
  >();
  writes = 0;

  reset(): void {
    this.items.clear();
    this.writes = 0;
  }

  async add(delta: LatenessDelta): Promise<'applied' | 'conflict'> {
    this.writes++;
    const hour = delta.arrivalHour - (delta.arrivalHour % HOUR_MS);
    const id = `${delta.view}|${hour}|${delta.shardId}`;
    const item = this.items.get(id);
    if (item !== undefined && item.checkpoint >= delta.firstSequence) return 'conflict';
    this.items.set(id, {
      hour,
      view: delta.view,
      lateness: mergeViewLateness(item?.lateness ?? emptyViewLateness(), delta.lateness),
      checkpoint: delta.lastSequence,
    });
    return 'applied';
  }

  async checkpoint(view: string, arrivalHour: number, shardId: string): Promise<string | null> {
    return this.items.get(`${view}|${arrivalHour - (arrivalHour % HOUR_MS)}|${shardId}`)?.checkpoint ?? null;
  }

  async read(view: string, from: number, to: number): Promise<ViewLateness> {
    let merged = emptyViewLateness();
    for (const item of this.items.values())
      if (item.view === view && item.hour >= from && item.hour < to)
        merged = mergeViewLateness(merged, item.lateness);
    return merged;
  }
}
