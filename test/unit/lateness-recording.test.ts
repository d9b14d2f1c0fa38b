import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it, vi } from 'vitest';
import { durationText } from '../../bin/cli/commands/status';
import { orderEvents } from '../../events';
import {
  applyAboveCheckpoint,
  checkpointedUpdate,
  DYNAMODB_EXPRESSION_MAX_BYTES,
} from '../../functions/adapters/checkpointed-write';
import {
  type LatenessDelta,
  type LatenessStore,
  latenessWrite,
} from '../../functions/adapters/lateness-store';
import type { ApiDeps } from '../../functions/api/deps';
import { LATENESS_WINDOW_CACHE_MS, LatenessReports } from '../../functions/api/lateness';
import type { BatchDeps } from '../../functions/batch/deps';
import { viewSettles } from '../../functions/batch/settle';
import { settlePolicyOf } from '../../functions/commons/settle';
import {
  compileJs,
  DYNAMODB_PARTITION_KEY_MAX_BYTES,
  padSequence,
  planSpeedWrites,
} from '../../functions/core';
import {
  type Exactness,
  emptyViewLateness,
  LATENESS_BINS,
  latenessHistogramOf,
  type SettlePolicy,
  type ViewLateness,
} from '../../functions/core/lateness';
import { cachedExactness, EXACTNESS_CACHE_MS, LatenessRecorder } from '../../functions/speed/lateness';
import { views } from '../../views';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const silent = () => new Logger({ logLevel: 'SILENT' });
const AUTO: SettlePolicy = { mode: 'auto', share: 0.9, minMs: MINUTE, maxMs: 30 * MINUTE, windowDays: 7 };

/** A lateness store that answers every read with `lateness` and counts the reads, with their ranges. */
class CountingLatenessStore implements LatenessStore {
  readonly reads: [view: string, from: number, to: number][] = [];
  constructor(private readonly lateness: ViewLateness = emptyViewLateness()) {}
  async add(_delta: LatenessDelta): Promise<'applied' | 'conflict'> {
    return 'applied';
  }
  async checkpoint(): Promise<string | null> {
    return null;
  }
  async read(view: string, from: number, to: number): Promise<ViewLateness> {
    this.reads.push([view, from, to]);
    return this.lateness;
  }
}

describe('the lateness write', () => {
  it("fits one view's whole histogram, every bin late after exact, in DynamoDB's 4 KB update expression", () => {
    // Prepare: every bin of both histograms counted, so every attribute is ADDed.
    const full = Array.from({ length: LATENESS_BINS }, () => 1_000_000);
    const write = latenessWrite({
      view: 'v'.repeat(DYNAMODB_PARTITION_KEY_MAX_BYTES),
      arrivalHour: Date.UTC(2026, 10, 25, 12),
      shardId: `shardId-${'9'.repeat(12)}`,
      firstSequence: padSequence('1'),
      lastSequence: padSequence('2'),
      lateness: { histogram: full, lateAfterExact: full },
    });

    // Act
    const { update, condition } = checkpointedUpdate(write);

    // Assess: the view names the item, not the attributes, so no view's name or count of views adds to it.
    expect(write.add).toHaveLength(2 * LATENESS_BINS);
    expect(Buffer.byteLength(update)).toBeLessThanOrEqual(DYNAMODB_EXPRESSION_MAX_BYTES);
    expect(Buffer.byteLength(condition)).toBeLessThanOrEqual(DYNAMODB_EXPRESSION_MAX_BYTES);
  });
});

describe('applyAboveCheckpoint', () => {
  it('writes all, then after a conflict only what lies above the checkpoint, and says it met a conflict', async () => {
    const asked: (string | null)[] = [];
    const conflicted = await applyAboveCheckpoint(
      'shardId-1',
      (after) => {
        asked.push(after);
        return Promise.resolve(after === null ? 'conflict' : 'applied');
      },
      async () => padSequence('5'),
    );
    expect(asked).toEqual([null, padSequence('5')]);
    expect(conflicted).toBe(true);
  });

  it('writes nothing more when nothing lies above the checkpoint, and fails when the checkpoint moves twice', async () => {
    const nothingLeft = applyAboveCheckpoint(
      'shardId-1',
      (after) => (after === null ? Promise.resolve('conflict') : null),
      async () => padSequence('9'),
    );
    await expect(nothingLeft).resolves.toBe(true);
    const readTwice = applyAboveCheckpoint(
      'shardId-1',
      () => Promise.resolve('conflict'),
      async () => padSequence('1'),
    );
    await expect(readTwice).rejects.toThrow('checkpoint of shardId-1 moved during the batch');
  });
});

describe('cachedExactness', () => {
  it("reads a view's manifest once per cache time, and again after a failed read", async () => {
    // Prepare
    let now = 0;
    const reads: string[] = [];
    let fail = true;
    const exactnessOf = cachedExactness(
      async (view): Promise<Exactness> => {
        reads.push(view);
        if (fail) throw new Error('manifest read failed');
        return { watermark: reads.length, lastRunStartedAt: 0 };
      },
      () => now,
    );

    // Act and assess: a failure is not kept.
    await expect(exactnessOf('revenue')).rejects.toThrow('manifest read failed');
    fail = false;
    expect((await exactnessOf('revenue')).watermark).toBe(2);
    now = EXACTNESS_CACHE_MS - 1;
    expect((await exactnessOf('revenue')).watermark).toBe(2);
    expect((await exactnessOf('orders_per_minute')).watermark).toBe(3);
    now = EXACTNESS_CACHE_MS;
    expect((await exactnessOf('revenue')).watermark).toBe(4);
    expect(reads).toEqual(['revenue', 'revenue', 'orders_per_minute', 'revenue']);
  });
});

describe('LatenessRecorder', () => {
  const arrival = Date.UTC(2026, 10, 25, 12, 30);
  const paidOrder = {
    record: { sequenceNumber: '1', partitionKey: 'o1', data: '', approximateArrivalTimestamp: arrival },
    event: { id: 'o1', ts: arrival - MINUTE, amount: 10, status: 'paid', country: 'FR' },
    catalog: orderEvents,
  };
  const plan = planSpeedWrites(views.map(compileJs), [paidOrder]);

  it('gives up waiting after its timeout, so a slow manifest or table never holds the batch', async () => {
    // Prepare: a manifest read that never answers.
    const recorder = new LatenessRecorder({
      store: new CountingLatenessStore(),
      exactnessOf: () => new Promise<Exactness>(() => {}),
      logger: silent(),
      timeoutMs: 20,
    });

    // Act
    const started = Date.now();
    const recorded = await recorder.record('shardId-1', [paidOrder], plan);

    // Assess
    expect(recorded).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("writes one item per view of the event's catalog and arrival hour, with the hour's first and last record", async () => {
    // Prepare
    const store = new CountingLatenessStore();
    const added = vi.spyOn(store, 'add');
    const recorder = new LatenessRecorder({
      store,
      exactnessOf: async () => ({ watermark: 0, lastRunStartedAt: null }),
      logger: silent(),
    });

    // Act
    const recorded = await recorder.record('shardId-1', [paidOrder], plan);

    // Assess
    expect(recorded).toBe(true);
    expect(added.mock.calls.map(([delta]) => [delta.view, delta.firstSequence, delta.lastSequence])).toEqual(
      views
        .filter((view) => view.events === orderEvents)
        .map((view) => [view.name, padSequence('1'), padSequence('1')]),
    );
  });
});

describe('settle policy from the variables', () => {
  it('refuses a minimum above the maximum, naming both variables', () => {
    const variables = {
      SETTLE_SHARE: 0.999,
      SETTLE_WINDOW_DAYS: 7,
      SETTLE_MIN_MINUTES: 10,
      SETTLE_MAX_MINUTES: 5,
    };
    expect(() => settlePolicyOf({ ...variables, SETTLE_MINUTES: 'auto' })).toThrow(
      'SETTLE_MIN_MINUTES (10) must not exceed SETTLE_MAX_MINUTES (5)',
    );
    expect(settlePolicyOf({ ...variables, SETTLE_MAX_MINUTES: 10, SETTLE_MINUTES: 'auto' })).toMatchObject({
      minMs: 10 * MINUTE,
      maxMs: 10 * MINUTE,
    });
  });
});

describe("the plan's settle time under auto", () => {
  it('falls back to the maximum, and says so, when the lateness counts cannot be read', async () => {
    // Prepare
    const logger = silent();
    const warn = vi.spyOn(logger, 'warn');
    const failing = new CountingLatenessStore();
    failing.read = async () => {
      throw new Error('throttled');
    };
    const deps = {
      settle: AUTO,
      settleMs: AUTO.maxMs,
      store: { lateness: failing },
      logger,
    } as unknown as BatchDeps;

    // Act
    const settle = await viewSettles(deps, Date.UTC(2026, 10, 25, 12))('revenue');

    // Assess
    expect(settle).toEqual({ mode: 'auto', ms: 30 * MINUTE });
    expect(warn).toHaveBeenCalledWith('lateness not read: the settle time is the maximum', expect.anything());
  });
});

describe("GET /views' lateness reports", () => {
  it("reads a view's past hours once per cache time and each hour turn, and the current hour every time", async () => {
    // Prepare: 90% of the events within a minute: `auto` learns a minute.
    const store = new CountingLatenessStore({
      histogram: latenessHistogramOf([...Array<number>(9).fill(30_000), 40 * MINUTE]),
      lateAfterExact: latenessHistogramOf([40 * MINUTE]),
    });
    const reports = new LatenessReports({
      batchStore: { lateness: store },
      settle: AUTO,
    } as unknown as ApiDeps);
    const hour = Date.UTC(2026, 10, 25, 12);
    const pastHoursReads = () => store.reads.filter(([, , to]) => to % HOUR === 0).length;

    // Act
    const first = await reports.of('revenue', hour + 10 * MINUTE);
    await reports.of('revenue', hour + 10 * MINUTE + LATENESS_WINDOW_CACHE_MS - 1);
    const readsWithinCacheTime = pastHoursReads();
    await reports.of('revenue', hour + 10 * MINUTE + LATENESS_WINDOW_CACHE_MS);
    await reports.of('revenue', hour + HOUR + 1);

    // Assess: the window is the plan's, the past hours and the current one, merged.
    expect(readsWithinCacheTime).toBe(1);
    expect(pastHoursReads()).toBe(3);
    expect(store.reads.slice(0, 2)).toEqual([
      ['revenue', hour + 10 * MINUTE - 7 * 24 * HOUR, hour],
      ['revenue', hour, hour + 10 * MINUTE + 1],
    ]);
    expect(first.lateness).toMatchObject({ events: 20, lateAfterExact: 2, lateAfterExactShare: 0.1 });
    expect(first.settle).toEqual({ mode: 'auto', ms: MINUTE });
  });
});

describe('npx driftless status', () => {
  it('writes lateness edges under a minute in seconds, whole hours in hours, others in minutes', () => {
    expect([0, 1_000, 30_000, MINUTE, 15 * MINUTE, 90 * MINUTE, 6 * HOUR, null].map(durationText)).toEqual([
      '0s',
      '1s',
      '30s',
      '1m',
      '15m',
      '90m',
      '6h',
      '>7d',
    ]);
  });
});
