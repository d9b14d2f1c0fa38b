/** Records kept whole as JSON text in one attribute of their item: run outcomes, reports, export jobs. */

import type { TableKey } from '../core/keys';
import type { Item, Table } from './table';

export async function putJson(
  table: Table,
  key: TableKey,
  attribute: string,
  value: unknown,
  extra: Item = {},
): Promise<void> {
  await table.put(key, { [attribute]: { S: JSON.stringify(value) }, ...extra });
}

/** The record at `key`, or null if there is none. */
export async function getJson<T>(table: Table, key: TableKey, attribute: string, consistent = false) {
  const body = (await table.get(key, consistent))?.[attribute]?.S;
  return body === undefined ? null : (JSON.parse(body) as T);
}

/**
 * The last `limit` records of a partition by sort key, last first: run ids sort by start time, so these
 * are the newest runs'. A page stops at 1 MB: large records may take more than one to reach the limit.
 */
export async function latestJson<T>(
  table: Table,
  pk: string,
  attribute: string,
  limit: number,
): Promise<T[]> {
  const records: T[] = [];
  if (limit <= 0) return records;
  for await (const item of table.query(pk, { descending: true, pageSize: limit })) {
    records.push(JSON.parse(item[attribute]?.S ?? 'null') as T);
    if (records.length >= limit) break;
  }
  return records;
}
