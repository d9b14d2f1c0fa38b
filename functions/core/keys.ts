/** Bucket arithmetic and the encoding of (bucket, group) keys, shared by every layer. */

export type BucketWidth = 'minute' | 'hour' | 'day';

export const BUCKET_WIDTH_MS: Readonly<Record<BucketWidth, number>> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** Start of the bucket holding `ts`; the SQL compiler emits the same `ts - (ts % width)`. */
export function bucketStart(ts: number, width: BucketWidth): number {
  return ts - (ts % BUCKET_WIDTH_MS[width]);
}

export function isBucketBoundary(ts: number, width: BucketWidth): boolean {
  return Number.isSafeInteger(ts) && ts >= 0 && ts % BUCKET_WIDTH_MS[width] === 0;
}

export type GroupValue = string | null;

/** A stable text key for one group: JSON keeps `null` apart from the string "null". */
export function groupKey(values: readonly GroupValue[]): string {
  return JSON.stringify(values);
}

export function rowKey(bucket: number, values: readonly GroupValue[]): string {
  return `${bucket}|${groupKey(values)}`;
}

/** Attribute names of the one DynamoDB table; the CDK construct and the adapters both read these. */
export const TABLE_ATTRIBUTES = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds after which DynamoDB may delete the item (speed items past the watermark). */
  expiresAt: 'expiresAt',
} as const;

/**
 * Kinesis sequence numbers are decimal strings of up to 129 digits. Left-padded to one width,
 * string order is numeric order, so DynamoDB conditions can compare them as strings.
 */
export const SEQUENCE_WIDTH = 130;

export function padSequence(sequenceNumber: string): string {
  if (!/^\d{1,130}$/.test(sequenceNumber))
    throw new RangeError(`not a Kinesis sequence number: ${sequenceNumber}`);
  return sequenceNumber.padStart(SEQUENCE_WIDTH, '0');
}

/** Sub-sequence numbers (a user record's index in a packed record) are uint64: at most 20 digits. */
export const SUB_SEQUENCE_WIDTH = 20;

/**
 * A user record's position on its shard as a string whose order is stream order: the padded sequence
 * number of its Kinesis record, then, for a user record of a packed (KPL aggregated) record, `-` and its
 * padded sub-sequence number.
 */
export function userRecordPosition(sequenceNumber: string, subSequenceNumber?: number): string {
  if (subSequenceNumber === undefined) return padSequence(sequenceNumber);
  if (!Number.isSafeInteger(subSequenceNumber) || subSequenceNumber < 0)
    throw new RangeError(`not a sub-sequence number: ${subSequenceNumber}`);
  return `${padSequence(sequenceNumber)}-${String(subSequenceNumber).padStart(SUB_SEQUENCE_WIDTH, '0')}`;
}

/** Numeric order of two sequence numbers without padding them (digits, no leading zeros). */
export function compareSequenceNumbers(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * End (exclusive) of the times a day can be named for: 10000-01-01. Past it `toISOString` writes a
 * six-digit year, so `YYYY-MM-DD` (the archive's partitions, the speed partitions) would break.
 */
export const MAX_DAY_TIME = 253_402_300_800_000;

/** Event-time day of an epoch-milliseconds time, `YYYY-MM-DD` in UTC: the archive's partition. */
export function dayOf(ts: number): string {
  if (!Number.isSafeInteger(ts) || ts < 0 || ts >= MAX_DAY_TIME)
    throw new RangeError(`no day for time ${ts}: it must be an integer from 0 to ${MAX_DAY_TIME - 1}`);
  return new Date(ts).toISOString().slice(0, 10);
}

/** Width of a time in sort keys: epoch milliseconds stay below 10^15 until the year 33658. */
const TIME_DIGITS = 15;

/** A time as a sort-key prefix: fixed width keeps string order numeric order. */
const sortableTime = (ms: number): string => String(ms).padStart(TIME_DIGITS, '0');

/** DynamoDB's key limits, in UTF-8 bytes (the developer guide's "Service, account, and table quotas"). */
export const DYNAMODB_PARTITION_KEY_MAX_BYTES = 2048;
export const DYNAMODB_SORT_KEY_MAX_BYTES = 1024;

/**
 * What any group key may take in a row's sort key at worst: the limit less 128 bytes of room. The
 * event catalog refuses string lengths that could pass it.
 */
export const ROW_SORT_KEY_BUDGET_BYTES = DYNAMODB_SORT_KEY_MAX_BYTES - 128;

/**
 * Sort-key bytes per character (code point) of a group value, at worst: the key holds the values as
 * JSON (`groupKey`), which writes a control character as `\u00XX` (6 bytes); any other code point is
 * at most 4 UTF-8 bytes, a quote or a backslash 2.
 */
export const KEY_BYTES_PER_CHARACTER = 6;

/**
 * The largest row sort key (`rowSortKey`) a group of values at most these lengths (in code points)
 * can make: `<15 digits>#`, then `[`, the values joined by `,`, `]`; each value `"..."` or `null`.
 */
export function worstRowSortKeyBytes(maxLengths: readonly number[]): number {
  let bytes = TIME_DIGITS + 1 + 2 + Math.max(0, maxLengths.length - 1);
  for (const length of maxLengths) bytes += Math.max(2 + KEY_BYTES_PER_CHARACTER * length, 'null'.length);
  return bytes;
}

/** A speed item key DynamoDB would refuse: the record behind it is quarantined, never retried. */
export class KeyTooLargeError extends Error {
  override readonly name = 'KeyTooLargeError';
  constructor(
    readonly attribute: 'pk' | 'sk',
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `its ${attribute === 'pk' ? 'partition' : 'sort'} key would be ${bytes} bytes, over DynamoDB's ${limit}`,
    );
  }
}

function checkKeyBytes(attribute: 'pk' | 'sk', key: string, limit: number): string {
  // A UTF-8 byte is at most 3 per UTF-16 unit: only a long key needs counting.
  if (key.length * 3 > limit) {
    const bytes = Buffer.byteLength(key, 'utf8');
    if (bytes > limit) throw new KeyTooLargeError(attribute, bytes, limit);
  }
  return key;
}

/**
 * Where a speed row lives: one partition per (view, version, day), so a series reads one Query per
 * day whatever the number of groups; the sort key orders rows by bucket.
 */
export function speedItemKey(
  view: { readonly name: string; readonly version: number },
  bucket: number,
  group: readonly GroupValue[],
): { pk: string; sk: string } {
  // Valid events cannot pass these (the catalog bounds every string); the check keeps it so.
  return {
    pk: checkKeyBytes('pk', speedPartitionKey(view, dayOf(bucket)), DYNAMODB_PARTITION_KEY_MAX_BYTES),
    sk: checkKeyBytes('sk', rowSortKey(bucket, group), DYNAMODB_SORT_KEY_MAX_BYTES),
  };
}

export const speedPartitionKey = (
  view: { readonly name: string; readonly version: number },
  day: string,
): string => `speed#${view.name}#v${view.version}#${day}`;

/** A row's sort key, the same in speed and batch partitions: rows ordered by bucket. */
export const rowSortKey = (bucket: number, group: readonly GroupValue[]): string =>
  `${sortableTime(bucket)}#${groupKey(group)}`;

/**
 * Where a batch run puts one day of a view: a partition per (view, version, day, batch version), so
 * a run writes beside what readers use and the manifest flips to it in one update.
 */
export const batchPartitionKey = (
  view: { readonly name: string; readonly version: number },
  day: string,
  batchVersion: string,
): string => `batch#${view.name}#v${view.version}#${day}#${batchVersion}`;

/** A key of the one table: its partition and sort key values (TABLE_ATTRIBUTES names the attributes). */
export interface TableKey {
  readonly pk: string;
  readonly sk: string;
}

/** The items of one partition whose sort keys lie in [`from`, `to`]. */
export interface SortKeyRange {
  readonly pk: string;
  readonly from: string;
  readonly to: string;
}

/** Digits of a chunk number: a day of a view packs into far fewer than 10^5 items (35 GB). */
const CHUNK_DIGITS = 5;

/** The sort key of the `chunk`th packed item of a day's rows: fixed width keeps chunks in write order. */
export function rowsChunkKey(chunk: number): string {
  if (!Number.isSafeInteger(chunk) || chunk < 0 || chunk >= 10 ** CHUNK_DIGITS)
    throw new RangeError(`no rows chunk ${chunk}: it must be an integer from 0 to ${10 ** CHUNK_DIGITS - 1}`);
  return `rows#${String(chunk).padStart(CHUNK_DIGITS, '0')}`;
}

export const manifestKey = (viewName: string): TableKey => ({ pk: `manifest#${viewName}`, sk: 'manifest' });

/** Every (batch version, day) a run wrote for a view, so clean-up finds retired and orphaned ones. */
export const versionRegistryPartition = (viewName: string): string => `versions#${viewName}`;

export const versionRegistryKey = (viewName: string, batchVersion: string, day: string): TableKey => ({
  pk: versionRegistryPartition(viewName),
  sk: `${batchVersion}#${day}`,
});

/** A view version's recompute as its runs load it: one item per (view, version). */
export const progressKey = (viewName: string, version: number): TableKey => ({
  pk: `progress#${viewName}`,
  sk: `v${version}`,
});

/** Reports are kept one partition per subject, sorted by run id: run ids sort by start time. */
export const driftReportPartition = (viewName: string): string => `drift#${viewName}`;

export const driftReportKey = (viewName: string, runId: string): TableKey => ({
  pk: driftReportPartition(viewName),
  sk: runId,
});

export const dataQualityPartition = (catalog: string): string => `quality#${catalog}`;

export const dataQualityKey = (catalog: string, runId: string): TableKey => ({
  pk: dataQualityPartition(catalog),
  sk: runId,
});

/** A batch run's records share its partition. */
const runPartition = (runId: string): string => `run#${runId}`;

/** A batch run's Step Functions execution, recorded by its plan: scheduled runs are not named by their id. */
export const runExecutionKey = (runId: string): TableKey => ({ pk: runPartition(runId), sk: 'execution' });

/** What a batch run did, recorded by its commit step. */
export const runOutcomeKey = (runId: string): TableKey => ({ pk: runPartition(runId), sk: 'outcome' });

/** An export job: one item each. */
export const exportKey = (id: string): TableKey => ({ pk: `export#${id}`, sk: 'export' });

/** Sort-key bounds for buckets in [from, to) within one speed partition. */
export function speedSortKeyRange(from: number, to: number): { start: string; end: string } {
  // A row's sort key is `<bucket>#[...]`, which sorts after `<bucket>#`: BETWEEN `from#` AND `to#`
  // holds exactly the buckets in [from, to).
  return {
    start: `${sortableTime(from)}#`,
    end: `${sortableTime(to)}#`,
  };
}

// Issue 15, restatement ledger and rollback: the manifests a commit replaced, and the ledger's entries.

/** Digits of a manifest revision in a sort key: a view commits far fewer than 10^12 times. */
const REVISION_DIGITS = 12;

/** Every manifest a view's commits and rollbacks replaced, by revision: what readers were served. */
export const manifestHistoryPartition = (viewName: string): string => `manifest-history#${viewName}`;

export const manifestHistoryKey = (viewName: string, revision: number): TableKey => {
  if (!Number.isSafeInteger(revision) || revision < 1 || revision >= 10 ** REVISION_DIGITS)
    throw new RangeError(`no manifest revision ${revision}`);
  return {
    pk: manifestHistoryPartition(viewName),
    sk: String(revision).padStart(REVISION_DIGITS, '0'),
  };
};

/**
 * A batch run's id (also the batch version it writes and its Step Functions execution name, at most 80
 * characters), and any run id a ledger key holds (`rollback-r<revision>` too): no `#`, bounded.
 */
export const RUN_ID = /^[A-Za-z0-9_-]{1,80}$/;
const LEDGER_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A view's restatements, one partition, sorted by when they were recorded: `since` is one range of keys. */
export const restatementsPartition = (viewName: string): string => `restatements#${viewName}`;

/**
 * The `part`th packed item of one day's restatements by one run (or rollback) recorded at `at`: the same
 * run, time and day give the same keys and the same entries, so a resumed or concurrent recording rewrites
 * its items rather than adding others. Each part is checked, so a key rebuilt from a cursor is a valid one.
 */
export function restatementsKey(
  viewName: string,
  at: number,
  runId: string,
  day: string,
  part: number,
): TableKey {
  if (!LEDGER_DAY.test(day)) throw new RangeError(`no ledger day ${JSON.stringify(day)}`);
  // Its run's header key, then the day: one change's items of a range of days are one range of keys.
  return {
    pk: restatementsPartition(viewName),
    sk: `${restatementRunKey(viewName, at, runId).sk}#${day}#${rowsChunkKey(part)}`,
  };
}

/**
 * One change's restatement items (recorded at `at` by `runId`) of the days from `fromDay` through `toDay`
 * (every day when not given): its items' keys are its header's time and run, then the day, so a range
 * of days is one range of keys and the items of other days are never read.
 */
export function restatementsOfRun(
  viewName: string,
  at: number,
  runId: string,
  days: { readonly fromDay?: string; readonly toDay?: string } = {},
): SortKeyRange {
  const prefix = `${restatementRunKey(viewName, at, runId).sk}#`;
  return {
    pk: restatementsPartition(viewName),
    from: `${prefix}${days.fromDay ?? ''}`,
    // A day's items are `<day>#rows#...`, and `~` sorts after `r` and after every digit.
    to: `${prefix}${days.toDay === undefined ? '' : `${days.toDay}#`}~`,
  };
}

/** A view's ledger headers: one small item per recorded change (a commit or a rollback), by time. */
export const restatementRunsPartition = (viewName: string): string => `restatement-runs#${viewName}`;

export function restatementRunKey(viewName: string, at: number, runId: string): TableKey {
  if (!Number.isSafeInteger(at) || at < 0) throw new RangeError(`no ledger time ${at}`);
  if (!RUN_ID.test(runId)) throw new RangeError(`no ledger run id ${JSON.stringify(runId)}`);
  return { pk: restatementRunsPartition(viewName), sk: `${sortableTime(at)}#${runId}` };
}

/** The ledger headers recorded at `since` or later. */
export const restatementRunsSince = (viewName: string, since: number): SortKeyRange => ({
  pk: restatementRunsPartition(viewName),
  from: sortableTime(Math.max(0, since)),
  to: '~',
});

// Provenance (issue 15): what each batch version of a view was computed from.

/** A view's batch versions' provenance: one item per (view, batch version), sorted by run id. */
export const provenancePartition = (viewName: string): string => `provenance#${viewName}`;

export const provenanceKey = (viewName: string, batchVersion: string): TableKey => ({
  pk: provenancePartition(viewName),
  sk: batchVersion,
});

/** An export's completion (its files and their hashes): an item of its own, written once, never after. */
export const exportCompletionKey = (id: string): TableKey => ({ pk: `export#${id}`, sk: 'completed' });

// Issue 15, a definition change never serves a hole: the definition registry.

/** Digits of a view version in a sort key: versions sort numerically. */
const VERSION_DIGITS = 10;

/** A view's registered definitions, one partition, sorted by version. */
export const definitionPartition = (viewName: string): string => `definition#${viewName}`;

/** One (view, version)'s definition: its document, hash, and when a speed function first counted it. */
export const definitionKey = (viewName: string, version: number): TableKey => {
  if (!Number.isSafeInteger(version) || version < 1 || version >= 10 ** VERSION_DIGITS)
    throw new RangeError(`no view version ${version}`);
  return { pk: definitionPartition(viewName), sk: `v${String(version).padStart(VERSION_DIGITS, '0')}` };
};

// Learned lateness (issue 15, deliverable 6): the speed layer's arrival histograms.

/**
 * A view's lateness counts: one item per (arrival hour, shard). Each item is written by one shard's calls
 * in turn and holds one checkpoint, so it stays under one write unit however many views and shards there
 * are, and no item takes every shard's writes.
 */
export const latenessPartition = (viewName: string): string => `lateness#${viewName}`;

export const latenessItemKey = (viewName: string, arrivalHour: number, shardId: string): TableKey => ({
  pk: latenessPartition(viewName),
  sk: `${sortableTime(bucketStart(arrivalHour, 'hour'))}#${shardId}`,
});

/** A view's lateness items of the arrival hours starting in [from, to), every shard's. */
export const latenessHoursRange = (viewName: string, from: number, to: number): SortKeyRange => ({
  pk: latenessPartition(viewName),
  from: sortableTime(Math.max(0, from)),
  // Inclusive bounds: every shard of the last hour starting before `to` (`~` sorts after shard ids).
  to: `${sortableTime(Math.max(0, to - 1))}#~`,
});

// Export file hashes (issue 15 review, finding 3): recorded as each export object is written, not on GET.

/** The sha256 of one object of the exports bucket, by its key: written once, by the export hasher. */
export const exportFileHashKey = (objectKey: string): TableKey => ({
  pk: `export-file#${objectKey}`,
  sk: 'sha256',
});

// Issue 17, several event catalogs: what the archive received, per catalog and event-time day.

/**
 * What the archive received of a catalog, per event-time day: one item per day (`sk` the day: every day
 * with objects, in order) and one per (hour of marking, day) (`sk` `<hour>#<day>`: the days changed since
 * a time are one range of sort keys, so a plan reads what changed, not history). One partition of each per
 * catalog: a view's days are its catalog's.
 */
const archiveDaysPartition = (catalog: string): string => `archive#days#${catalog}`;
const archiveChangesPartition = (catalog: string): string => `archive#changes#${catalog}`;

export const archiveDayKey = (catalog: string, day: string): TableKey => ({
  pk: archiveDaysPartition(catalog),
  sk: day,
});

export const archiveChangeKey = (catalog: string, markedAt: number, day: string): TableKey => ({
  pk: archiveChangesPartition(catalog),
  sk: `${sortableTime(bucketStart(markedAt, 'hour'))}#${day}`,
});

/** A catalog's archive days in (`after`, `through`] (`after` `''`: from the first), or null for none. */
export function archiveDaysRange(catalog: string, after: string, through: string): SortKeyRange | null {
  // `<day>~` sorts after the day and before the next one; `0` before every day.
  const from = after === '' ? '0' : `${after}~`;
  return from > through ? null : { pk: archiveDaysPartition(catalog), from, to: through };
}

/**
 * A catalog's changes marked in the hour of `since` or later: a few marked earlier in that hour too, which
 * a reader leaves out by their marking time.
 */
export const archiveChangesSince = (catalog: string, since: number): SortKeyRange => ({
  pk: archiveChangesPartition(catalog),
  from: `${sortableTime(Math.max(0, bucketStart(since, 'hour')))}#`,
  // Every change's sort key starts with a digit, and `~` sorts after every digit.
  to: '~',
});
