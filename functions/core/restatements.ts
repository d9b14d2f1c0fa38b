/** What changed in a view's exact numbers when its manifest moved to other day versions: the ledger's rule. */

import type { GroupValue } from './keys';
import type { MeasureValue } from './monoid';
import type { ViewRow } from './rows';
import { type EncodedMeasure, encodeMeasure } from './series';

/** Why an exact number changed. */
export type RestatementCause = 'late-events' | 'definition-change' | 'backfill' | 'rollback';

export const RESTATEMENT_CAUSES: readonly RestatementCause[] = [
  'late-events',
  'definition-change',
  'backfill',
  'rollback',
];

/** One (bucket, group, measure) whose exact value differs between two versions of its day. */
export interface RestatedValue {
  readonly bucket: number;
  /** The group's fields by name. */
  readonly group: Readonly<Record<string, GroupValue>>;
  readonly measure: string;
  /** As the API encodes measures; null where the group or the measure was absent. */
  readonly old: EncodedMeasure;
  readonly new: EncodedMeasure;
}

/** One version's rows of a day, with the group fields of the definition that computed them. */
export interface VersionRows {
  readonly groupBy: readonly string[];
  readonly rows: readonly ViewRow[];
}

interface Keyed {
  readonly bucket: number;
  readonly group: Record<string, GroupValue>;
  readonly values: Readonly<Record<string, MeasureValue>>;
}

/** Rows below `exactBelow` by (bucket, named group): two definitions may order or name group fields apart. */
function byGroup({ groupBy, rows }: VersionRows, exactBelow: number): Map<string, Keyed> {
  const keyed = new Map<string, Keyed>();
  for (const row of rows) {
    if (row.bucket >= exactBelow) continue;
    const group = Object.fromEntries(groupBy.map((field, index) => [field, row.group[index] ?? null]));
    const sortedGroup = Object.keys(group)
      .sort()
      .map((field) => [field, group[field]]);
    keyed.set(`${row.bucket}|${JSON.stringify(sortedGroup)}`, {
      bucket: row.bucket,
      group,
      values: row.values,
    });
  }
  return keyed;
}

/**
 * Every (bucket, group, measure) below `exactBelow` whose value differs between the old and the new rows
 * of a day. `exactBelow` is the bound below which both versions were served exact: the lower of the two
 * watermarks (a bucket that only the new version makes exact was never served exact before: not a
 * restatement). A group or a measure present on one side only has null on the other. In bucket, group
 * and measure order.
 */
export function restatedValues(old: VersionRows, next: VersionRows, exactBelow: number): RestatedValue[] {
  const before = byGroup(old, exactBelow);
  const after = byGroup(next, exactBelow);
  const restated: (RestatedValue & { readonly key: string })[] = [];
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const was = before.get(key);
    const now = after.get(key);
    const row = (now ?? was) as Keyed;
    const measures = new Set([...Object.keys(was?.values ?? {}), ...Object.keys(now?.values ?? {})]);
    for (const measure of measures) {
      const oldValue = was?.values[measure] ?? null;
      const newValue = now?.values[measure] ?? null;
      if (oldValue === newValue) continue;
      restated.push({
        key,
        bucket: row.bucket,
        group: row.group,
        measure,
        old: encodeMeasure(oldValue),
        new: encodeMeasure(newValue),
      });
    }
  }
  return restated
    .sort(
      (a, b) =>
        a.bucket - b.bucket ||
        (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) ||
        (a.measure < b.measure ? -1 : a.measure > b.measure ? 1 : 0),
    )
    .map(({ key: _key, ...value }) => value);
}

/** What a manifest records of the definition its rows were computed with. */
interface Computed {
  readonly version: number;
  readonly definitionHash?: string;
}

/**
 * Why a commit restated values: its view's definition changed (another version, or the same version
 * with another hash, as when the catalog's rules change), else it was asked to recompute all history
 * (a backfill), else late events changed the days it recomputed. A manifest from before hashes were
 * recorded is compared by version only.
 */
export function commitCause(previous: Computed, next: Computed, backfill: boolean): RestatementCause {
  const hashes = previous.definitionHash !== undefined && next.definitionHash !== undefined;
  if (previous.version !== next.version || (hashes && previous.definitionHash !== next.definitionHash))
    return 'definition-change';
  return backfill ? 'backfill' : 'late-events';
}

/**
 * A ledger header: one recorded change of a view's manifest (a commit, or a rollback), written before the
 * manifest write, then brought forward day by day as the diff is recorded.
 */
export interface LedgerRun {
  readonly view: string;
  /** The committing run, or a rollback's `rollback-r<revision>`. */
  readonly runId: string;
  /** The manifest revision the change took effect in. */
  readonly revision: number;
  readonly previousRevision: number;
  /** When it was recorded: the manifest's `committedAt` at that revision. */
  readonly at: number;
  readonly cause: RestatementCause;
  /** The watermark moved from `before` to `after` (back, for a rollback to an older manifest). */
  readonly watermark: { readonly before: number; readonly after: number };
  /** Every day the change touched is diffed and recorded. */
  readonly complete: boolean;
  /** The last day recorded, in day order ('' for none yet): the diff goes on after it. */
  readonly throughDay: string;
  /** Entries recorded so far (all of them once complete). */
  readonly entries: number;
}

/** The ledger's run id of the rollback that wrote `revision`. */
export const rollbackRunId = (revision: number): string => `rollback-r${revision}`;

/** What a manifest of a revision says of the write that made it. */
export interface ManifestIdentity {
  readonly revision: number;
  readonly lastRunId: string;
  readonly committedAt: number;
  /** Written by a rollback. */
  readonly rolledBack: boolean;
}

/**
 * Whether `manifest` (of the header's revision) is the one the header's write made: its time and its run
 * (a rollback's manifest names the run it serves again, so the rollback is known by its revision). A
 * header whose revision another write took was never served: its write lost.
 */
export const wroteManifest = (run: LedgerRun, manifest: ManifestIdentity): boolean =>
  manifest.revision === run.revision &&
  manifest.committedAt === run.at &&
  (manifest.rolledBack ? run.runId === rollbackRunId(run.revision) : manifest.lastRunId === run.runId);
