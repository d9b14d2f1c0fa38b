import type { WriteRequest } from '@aws-sdk/client-dynamodb';
import type { ViewDefinition, ViewRow } from '../../core';
import {
  batchPartitionKey,
  rowsChunkKey,
  versionRegistryKey,
  versionRegistryPartition,
} from '../../core/keys';
import { itemBytes } from '../dynamo-rows';
import { type Item, Table } from '../table';
import { activeDays, type Manifest } from './manifest';
import { MAX_PACKED_ITEM_BYTES, packedRow, packRows, unpackRows } from './row-packs';

/** A (batch version, day) a run wrote for a view, as the version registry keeps it for clean-up. */
export interface VersionEntry {
  readonly view: string;
  readonly batchVersion: string;
  readonly day: string;
  readonly viewVersion: number;
  readonly createdAt: number;
  /** When clean-up first found no manifest pointing at it: the grace period is counted from then. */
  readonly inactiveSince?: number;
}

/** The batch rows of each (view, version, day, batch version), and the registry of the versions written. */
export class DayVersions {
  constructor(private readonly table: Table) {}

  /**
   * Writes one day of a view under a batch version, registering the version first so clean-up finds
   * it. Rows are packed, gzip JSON, as many to an item as fit under MAX_PACKED_ITEM_BYTES measured as
   * written (a few thousand rows of short groups): a day is read or written in a few requests however
   * many groups it has, and no group value is long enough to push an item past DynamoDB's limit.
   */
  async write(
    view: ViewDefinition,
    batchVersion: string,
    day: string,
    rows: readonly ViewRow[],
    now: number,
  ): Promise<void> {
    const entry: VersionEntry = {
      view: view.name,
      batchVersion,
      day,
      viewVersion: view.version,
      createdAt: now,
    };
    await this.table.put(versionRegistryKey(view.name, batchVersion, day), {
      entry: { S: JSON.stringify(entry) },
    });
    const pk = batchPartitionKey(view, day, batchVersion);
    const measures = Object.keys(view.measures);
    const itemOf = (chunk: number, packed: Uint8Array): Item => ({
      ...Table.key({ pk, sk: rowsChunkKey(chunk) }),
      measures: { S: JSON.stringify(measures) },
      rows: { B: packed },
    });
    const budget = MAX_PACKED_ITEM_BYTES - itemBytes(itemOf(0, new Uint8Array()));
    const packs = packRows(
      rows.map((row) => packedRow(row, measures)),
      budget,
    );
    await this.table.batchWrite(
      packs.map((packed, chunk) => ({ PutRequest: { Item: itemOf(chunk, packed) } })),
    );
  }

  /** Batch rows for buckets in [from, to) from the manifest's active versions. */
  async readRows(view: ViewDefinition, manifest: Manifest, from: number, to: number): Promise<ViewRow[]> {
    const rows: ViewRow[] = [];
    for (const [day, batchVersion] of activeDays(manifest, from, to))
      for (const row of await this.readDay(view.name, manifest.version, day, batchVersion))
        if (row.bucket >= from && row.bucket < to) rows.push(row);
    return rows;
  }

  /**
   * Every row of one day of one batch version. A (view, version, day, batch version) is written once
   * before any manifest points at it and never changed, so readers may cache it by these four.
   */
  async readDay(view: string, version: number, day: string, batchVersion: string): Promise<ViewRow[]> {
    const rows: ViewRow[] = [];
    const pk = batchPartitionKey({ name: view, version }, day, batchVersion);
    // A day read just after its commit must see every item the load wrote: readers cache it.
    for await (const item of this.table.query(pk, { consistent: true })) {
      const measures = JSON.parse(item.measures?.S ?? '[]') as string[];
      rows.push(...unpackRows(item.rows?.B ?? new Uint8Array(), measures));
    }
    return rows;
  }

  async list(viewName: string): Promise<VersionEntry[]> {
    const entries: VersionEntry[] = [];
    for await (const item of this.table.query(versionRegistryPartition(viewName), { consistent: true })) {
      const entry = JSON.parse(item.entry?.S ?? '{}') as VersionEntry;
      const inactiveSince = item.inactiveSince?.N;
      entries.push(inactiveSince === undefined ? entry : { ...entry, inactiveSince: Number(inactiveSince) });
    }
    return entries;
  }

  /**
   * Records that no manifest points at this version as of `at`, unless an earlier time is recorded
   * (`null` clears it: the version is active). Returns the time recorded, undefined if none, and null
   * if the entry is gone (another clean-up deleted it).
   */
  async markInactive(entry: VersionEntry, at: number | null): Promise<number | undefined | null> {
    const registry = versionRegistryKey(entry.view, entry.batchVersion, entry.day);
    // Never creates an entry that clean-up has just deleted.
    const condition = { condition: 'attribute_exists(#pk)', returnItem: true };
    const updated =
      at === null
        ? await this.table.updateIf(registry, 'REMOVE inactiveSince', condition)
        : await this.table.updateIf(registry, 'SET inactiveSince = if_not_exists(inactiveSince, :at)', {
            ...condition,
            values: { ':at': { N: String(at) } },
          });
    if (updated === null) return null;
    const recorded = updated.inactiveSince?.N;
    return recorded === undefined ? undefined : Number(recorded);
  }

  /** Deletes one (batch version, day) of a view and then its registry entry; returns the items deleted. */
  async delete(entry: VersionEntry): Promise<number> {
    const pk = batchPartitionKey(
      { name: entry.view, version: entry.viewVersion },
      entry.day,
      entry.batchVersion,
    );
    const deletes: WriteRequest[] = [];
    for await (const item of this.table.query(pk, { consistent: true }))
      deletes.push({ DeleteRequest: { Key: Table.key({ pk, sk: Table.sortKeyOf(item) }) } });
    await this.table.batchWrite(deletes);
    // BatchWriteItem, not DeleteItem: clean-up is granted the one write action.
    const registry = versionRegistryKey(entry.view, entry.batchVersion, entry.day);
    await this.table.batchWrite([{ DeleteRequest: { Key: Table.key(registry) } }]);
    return deletes.length;
  }
}
