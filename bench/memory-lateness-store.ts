import type { HourLatenessDelta, LatenessStore } from '../functions/adapters/lateness-store';
import { emptyViewLateness, mergeViewLateness, type ViewLateness } from '../functions/core/lateness';

const HOUR_MS = 3_600_000;

/** The lateness store's semantics (conditional ADD per shard checkpoint, an item per hour) in memory. */
export class MemoryLatenessStore implements LatenessStore {
  private readonly hours = new Map<
    number,
    { views: Map<string, ViewLateness>; checkpoints: Map<string, string> }
  >();
  writes = 0;

  reset(): void {
    this.hours.clear();
    this.writes = 0;
  }

  async add(delta: HourLatenessDelta): Promise<'applied' | 'conflict'> {
    this.writes++;
    const hour = delta.arrivalHour - (delta.arrivalHour % HOUR_MS);
    const item = this.hours.get(hour) ?? { views: new Map(), checkpoints: new Map() };
    this.hours.set(hour, item);
    const checkpoint = item.checkpoints.get(delta.shardId);
    if (checkpoint !== undefined && checkpoint >= delta.firstSequence) return 'conflict';
    for (const [view, lateness] of delta.views)
      item.views.set(view, mergeViewLateness(item.views.get(view) ?? emptyViewLateness(), lateness));
    item.checkpoints.set(delta.shardId, delta.lastSequence);
    return 'applied';
  }

  async checkpoint(arrivalHour: number, shardId: string): Promise<string | null> {
    return this.hours.get(arrivalHour - (arrivalHour % HOUR_MS))?.checkpoints.get(shardId) ?? null;
  }

  async read(from: number, to: number): Promise<Map<string, ViewLateness>> {
    const merged = new Map<string, ViewLateness>();
    for (const [hour, item] of this.hours) {
      if (hour < from || hour >= to) continue;
      for (const [view, lateness] of item.views)
        merged.set(view, mergeViewLateness(merged.get(view) ?? emptyViewLateness(), lateness));
    }
    return merged;
  }
}
