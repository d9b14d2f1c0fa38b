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
