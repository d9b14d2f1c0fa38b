import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MeasureValue, ViewRow } from '../../functions/core';
import { encodeMeasure } from '../../functions/core';
import {
  commitCause,
  type LedgerRun,
  type RestatedValue,
  restatedValues,
  rollbackRunId,
  wroteManifest,
} from '../../functions/core/restatements';

const HOUR = 3_600_000;
const row = (bucket: number, country: string | null, values: Record<string, MeasureValue>): ViewRow => ({
  bucket,
  group: [country],
  values,
});

describe('restatedValues', () => {
  it('lists each (bucket, group, measure) whose value changed, old and new as the API encodes them', () => {
    const old = [row(0, 'US', { revenue: 100n, orders: 2n }), row(HOUR, 'US', { revenue: 5n, orders: 1n })];
    const next = [row(0, 'US', { revenue: 177n, orders: 3n }), row(HOUR, 'US', { revenue: 5n, orders: 1n })];
    expect(
      restatedValues({ groupBy: ['country'], rows: old }, { groupBy: ['country'], rows: next }, 2 * HOUR),
    ).toEqual([
      { bucket: 0, group: { country: 'US' }, measure: 'orders', old: 2, new: 3 },
      { bucket: 0, group: { country: 'US' }, measure: 'revenue', old: 100, new: 177 },
    ]);
  });

  it('gives null for the side a group is missing from, and keeps a null group value apart from "null"', () => {
    const old = [row(0, null, { orders: 1n })];
    const next = [row(0, null, { orders: 1n }), row(0, 'null', { orders: 4n })];
    expect(
      restatedValues({ groupBy: ['country'], rows: old }, { groupBy: ['country'], rows: next }, HOUR),
    ).toEqual([{ bucket: 0, group: { country: 'null' }, measure: 'orders', old: null, new: 4 }]);
    expect(
      restatedValues({ groupBy: ['country'], rows: next }, { groupBy: ['country'], rows: old }, HOUR),
    ).toEqual([{ bucket: 0, group: { country: 'null' }, measure: 'orders', old: 4, new: null }]);
  });

  it('gives null for a measure one definition has and the other has not', () => {
    const old = [row(0, 'US', { orders: 1n })];
    const next = [row(0, 'US', { orders: 1n, refunds: 2n })];
    expect(
      restatedValues({ groupBy: ['country'], rows: old }, { groupBy: ['country'], rows: next }, HOUR),
    ).toEqual([{ bucket: 0, group: { country: 'US' }, measure: 'refunds', old: null, new: 2 }]);
  });

  it('leaves out buckets from the bound on: they were not exact on both sides', () => {
    const old = [row(0, 'US', { orders: 1n })];
    const next = [row(0, 'US', { orders: 2n })];
    expect(
      restatedValues({ groupBy: ['country'], rows: old }, { groupBy: ['country'], rows: next }, 0),
    ).toEqual([]);
  });

  it('writes sums past 2^53 as exact decimal text', () => {
    const big = 2n ** 60n;
    const [restated] = restatedValues(
      { groupBy: [], rows: [{ bucket: 0, group: [], values: { revenue: big } }] },
      { groupBy: [], rows: [{ bucket: 0, group: [], values: { revenue: big + 1n } }] },
      HOUR,
    );
    expect(restated).toEqual({
      bucket: 0,
      group: {},
      measure: 'revenue',
      old: big.toString(),
      new: (big + 1n).toString(),
    });
  });

  const rowsArbitrary = fc.uniqueArray(
    fc.record({
      bucket: fc.integer({ min: 0, max: 5 }).map((hour) => hour * HOUR),
      country: fc.constantFrom('US', 'FR', null),
      orders: fc.option(fc.bigInt({ min: 0n, max: 3n }), { nil: null }),
    }),
    { selector: (r) => `${r.bucket}|${r.country}` },
  );
  const toRows = (records: { bucket: number; country: string | null; orders: bigint | null }[]) =>
    records.map((r) => row(r.bucket, r.country, { orders: r.orders }));
  const key = (bucket: number, country: string | null) => `${bucket}|${JSON.stringify(country)}`;

  it('is exactly the difference: the old values with the restatements applied are the new ones, below the bound', () => {
    fc.assert(
      fc.property(rowsArbitrary, rowsArbitrary, fc.integer({ min: 0, max: 6 }), (before, after, hours) => {
        const bound = hours * HOUR;
        const restated = restatedValues(
          { groupBy: ['country'], rows: toRows(before) },
          { groupBy: ['country'], rows: toRows(after) },
          bound,
        );
        const valuesOf = (records: typeof before) =>
          new Map(
            records
              .filter((r) => r.bucket < bound)
              .map((r) => [key(r.bucket, r.country), encodeMeasure(r.orders)] as const),
          );
        const applied = valuesOf(before);
        for (const change of restated as RestatedValue[]) {
          expect(change.bucket).toBeLessThan(bound);
          expect(change.old).not.toEqual(change.new);
          applied.set(key(change.bucket, change.group.country ?? null), change.new);
        }
        const expected = valuesOf(after);
        // A group on one side only reads as null on the other.
        for (const name of new Set([...applied.keys(), ...expected.keys()]))
          expect(applied.get(name) ?? null).toEqual(expected.get(name) ?? null);
      }),
    );
  });
});

describe('commitCause', () => {
  it('is a definition change when the version or the hash differs, else a backfill when asked, else late events', () => {
    expect(commitCause({ version: 1 }, { version: 2 }, true)).toBe('definition-change');
    expect(commitCause({ version: 1, definitionHash: 'a' }, { version: 1, definitionHash: 'b' }, false)).toBe(
      'definition-change',
    );
    // A manifest from before hashes were recorded is compared by version only.
    expect(commitCause({ version: 1 }, { version: 1, definitionHash: 'b' }, false)).toBe('late-events');
    expect(commitCause({ version: 1, definitionHash: 'a' }, { version: 1, definitionHash: 'a' }, true)).toBe(
      'backfill',
    );
  });
});

describe('wroteManifest', () => {
  const run: LedgerRun = {
    view: 'revenue',
    runId: 'run-a',
    revision: 5,
    previousRevision: 4,
    at: 1_000,
    cause: 'late-events',
    watermark: { before: 0, after: 0 },
    complete: false,
    throughDay: '',
    entries: 0,
  };
  const manifest = { revision: 5, lastRunId: 'run-a', committedAt: 1_000, rolledBack: false };

  it('is the manifest a header was written for: same revision, time and run', () => {
    expect(wroteManifest(run, manifest)).toBe(true);
    // A retry that wrote another header (another time), another run, or another revision: its write lost.
    expect(wroteManifest(run, { ...manifest, committedAt: 1_001 })).toBe(false);
    expect(wroteManifest(run, { ...manifest, lastRunId: 'run-b' })).toBe(false);
    expect(wroteManifest(run, { ...manifest, revision: 6 })).toBe(false);
  });

  it("knows a rollback's manifest by its revision: it names the run it serves again", () => {
    const rollback = { ...run, runId: rollbackRunId(5), cause: 'rollback' as const };
    expect(wroteManifest(rollback, { ...manifest, lastRunId: 'run-old', rolledBack: true })).toBe(true);
    // A commit at that revision (not rolled back) is another write.
    expect(wroteManifest(rollback, { ...manifest, lastRunId: 'run-old' })).toBe(false);
    expect(wroteManifest(run, { ...manifest, rolledBack: true })).toBe(false);
  });
});
