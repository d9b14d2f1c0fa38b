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

/** Width of a bucket start in sort keys: epoch milliseconds stay below 10^15 until the year 33658. */
const BUCKET_DIGITS = 15;

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
  let bytes = BUCKET_DIGITS + 1 + 2 + Math.max(0, maxLengths.length - 1);
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
  `${String(bucket).padStart(BUCKET_DIGITS, '0')}#${groupKey(group)}`;

/**
 * Where a batch run puts one day of a view: a partition per (view, version, day, batch version), so
 * a run writes beside what readers use and the manifest flips to it in one update.
 */
export const batchPartitionKey = (
  view: { readonly name: string; readonly version: number },
  day: string,
  batchVersion: string,
): string => `batch#${view.name}#v${view.version}#${day}#${batchVersion}`;

export const manifestKey = (viewName: string) => ({ pk: `manifest#${viewName}`, sk: 'manifest' });

/** Every (batch version, day) a run wrote for a view, so clean-up finds retired and orphaned ones. */
export const versionRegistryKey = (viewName: string, batchVersion: string, day: string) => ({
  pk: `versions#${viewName}`,
  sk: `${batchVersion}#${day}`,
});

export const driftReportKey = (viewName: string, runId: string) => ({ pk: `drift#${viewName}`, sk: runId });

/** A batch run's Step Functions execution, recorded by its plan: scheduled runs are not named by their id. */
export const runExecutionKey = (runId: string) => ({ pk: `run#${runId}`, sk: 'execution' });

/** Sort-key bounds for buckets in [from, to) within one speed partition. */
export function speedSortKeyRange(from: number, to: number): { start: string; end: string } {
  // A row's sort key is `<bucket>#[...]`, which sorts after `<bucket>#`: BETWEEN `from#` AND `to#`
  // holds exactly the buckets in [from, to).
  return {
    start: `${String(from).padStart(BUCKET_DIGITS, '0')}#`,
    end: `${String(to).padStart(BUCKET_DIGITS, '0')}#`,
  };
}
