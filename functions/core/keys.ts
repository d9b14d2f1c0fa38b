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

/** Event-time day of an epoch-milliseconds time, `YYYY-MM-DD` in UTC: the archive's partition. */
export function dayOf(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
}

/** Width of a bucket start in sort keys: epoch milliseconds stay below 10^15 until the year 33658. */
const BUCKET_DIGITS = 15;

/**
 * Where a speed row lives: one partition per (view, version, day), so a series reads one Query per
 * day whatever the number of groups; the sort key orders rows by bucket.
 */
export function speedItemKey(
  view: { readonly name: string; readonly version: number },
  bucket: number,
  group: readonly GroupValue[],
): { pk: string; sk: string } {
  return { pk: speedPartitionKey(view, dayOf(bucket)), sk: rowSortKey(bucket, group) };
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
