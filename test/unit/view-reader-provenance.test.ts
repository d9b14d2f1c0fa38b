import { describe, expect, it } from 'vitest';
import type { BatchProvenance, DynamoBatchStore } from '../../functions/adapters/dynamo-batch-store';
import type { DynamoSpeedStore } from '../../functions/adapters/dynamo-speed-store';
import { PROVENANCE_READS_AT_ONCE, ViewReader } from '../../functions/api/view-reader';

/** A batch store whose provenance reads answer on the next tick, counting the reads and the most at once. */
function provenanceStore() {
  const reads = { total: 0, inFlight: 0, mostAtOnce: 0 };
  const get = async (view: string, batchVersion: string): Promise<BatchProvenance> => {
    reads.total++;
    reads.inFlight++;
    reads.mostAtOnce = Math.max(reads.mostAtOnce, reads.inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    reads.inFlight--;
    return { view, batchVersion } as BatchProvenance;
  };
  // Only `provenance.get` is read by `ViewReader.provenance`.
  const batch = { provenance: { get } } as unknown as DynamoBatchStore;
  return { reader: new ViewReader(batch, {} as DynamoSpeedStore, 86_400_000), reads };
}

describe("a series' provenance", () => {
  it('reads the cited batch versions a bounded number at once, each once, and keeps them', async () => {
    // Prepare: a daily series over three years cites a batch version per day
    const { reader, reads } = provenanceStore();
    const cited = Array.from({ length: 1_000 }, (_, day) => `run-${day}`);
    // Act
    const first = await reader.provenance('revenue', [...cited, ...cited]);
    const again = await reader.provenance('revenue', cited);
    // Assess
    expect(Object.keys(first)).toHaveLength(1_000);
    expect(again).toEqual(first);
    expect(reads).toEqual({ total: 1_000, inFlight: 0, mostAtOnce: PROVENANCE_READS_AT_ONCE });
  });
});
