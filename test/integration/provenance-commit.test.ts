import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Provenance } from '../../functions/adapters/batch-store/provenance';
import type { DynamoBatchStore, Manifest } from '../../functions/adapters/dynamo-batch-store';
import { type CommitInput, commit } from '../../functions/batch/commit';
import { revenue } from '../../views';
import { type Order, runBatch, settledNowTemplate, startBatchStack } from '../support/batch-stack';
import { startFixture } from '../support/fixture';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const now = Date.now();
const monthBack = now - (now % DAY) - 31 * DAY;

let fixture: Awaited<ReturnType<typeof startFixture>>;
beforeAll(async () => {
  fixture = await startFixture();
});
afterAll(() => fixture?.close());

const closes: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closes.splice(0).map((close) => close()));
});

/** Paid orders over two days a month back. */
const orders: Order[] = Array.from({ length: 48 }, (_, index) => ({
  id: `o${index}`,
  ts: monthBack + index * HOUR + 60_000,
  country: ['US', 'FR'][index % 2] as string,
  amount: 100 + index,
  status: 'paid',
}));

const template = settledNowTemplate;

/**
 * The view computed once, then a backfill whose commit loses its manifest write to another writer (a
 * rollback, say), after it recorded its versions' provenance: its loads wait, uncommitted, for the next run.
 */
async function backfillWhoseCommitLost() {
  const stack = await startBatchStack(fixture, template, {
    name: 'provenance-commit',
    views: [revenue],
    deps: { graceMs: 0 },
  });
  closes.push(stack.close);
  const { deps } = stack;
  await stack.send(orders);
  await runBatch(deps);
  const losing = Object.create(deps.store) as DynamoBatchStore;
  losing.commitManifest = async (next, expectedRevision) => {
    const current = (await deps.store.getManifest(revenue.name)) as Manifest;
    await deps.store.commitManifest({ ...current, revision: current.revision + 1 }, current.revision);
    return deps.store.commitManifest(next, expectedRevision);
  };
  await expect(runBatch({ ...deps, store: losing }, { input: { backfill: [revenue.name] } })).rejects.toThrow(
    /revenue failed in Commit \(ManifestConflictError\)/,
  );
  const progress = await deps.store.getProgress(revenue.name, revenue.version);
  if (progress === null || progress.committedAt !== null) throw new Error('the backfill left no progress');
  const lostRun = progress.runId;
  const stale = await deps.store.provenance.get(revenue.name, lostRun);
  if (stale === null) throw new Error('the losing commit recorded no provenance');
  return { deps, lostRun, stale };
}

/** The store with its provenance's `replace` replaced (the replacement may call the original). */
function withReplace(store: DynamoBatchStore, replace: Provenance['replace']): DynamoBatchStore {
  const provenance = Object.assign(Object.create(store.provenance), { replace }) as Provenance;
  const wrapped = Object.create(store) as DynamoBatchStore;
  Object.defineProperty(wrapped, 'provenance', { value: provenance });
  return wrapped;
}

describe('provenance of a batch version whose first commit lost its manifest write', () => {
  it('names the commit that happened: the run that resumed the backfill, its revision and time', async () => {
    // Prepare
    const { deps, lostRun, stale } = await backfillWhoseCommitLost();
    // Act: the next run resumes the backfill (nothing changed since: the days keep the lost run's version)
    await runBatch(deps);
    // Assess
    const manifest = (await deps.store.getManifest(revenue.name)) as Manifest;
    expect(manifest.lastRunId).not.toBe(lostRun);
    expect(Object.values(manifest.days)).toContain(lostRun);
    expect(await deps.store.provenance.get(revenue.name, lostRun)).toEqual({
      ...stale,
      runId: manifest.lastRunId,
      revision: manifest.revision,
      committedAt: manifest.committedAt,
      watermark: manifest.watermark,
    });
  });

  it('is replaced by the retried commit step when the step died after its manifest write', async () => {
    // Prepare
    const { deps, lostRun, stale } = await backfillWhoseCommitLost();
    const dying = withReplace(deps.store, async () => {
      throw new Error('injected: the commit step died after its manifest write');
    });
    let commitInput: CommitInput | undefined;
    await expect(
      runBatch(
        { ...deps, store: dying },
        {
          onTask: (state, input) => {
            if (state === 'Commit') commitInput = input as CommitInput;
          },
        },
      ),
    ).rejects.toThrow();
    const committed = (await deps.store.getManifest(revenue.name)) as Manifest;
    expect(await deps.store.provenance.get(revenue.name, lostRun)).toEqual(stale);
    // Act
    await commit(deps, commitInput as CommitInput);
    // Assess
    expect(await deps.store.getManifest(revenue.name)).toEqual(committed);
    expect(await deps.store.provenance.get(revenue.name, lostRun)).toMatchObject({
      runId: committed.lastRunId,
      revision: committed.revision,
      committedAt: committed.committedAt,
    });
  });
});
