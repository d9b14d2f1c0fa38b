import type { ObjectStore } from '../adapters/object-store';
import { QUARANTINE_PREFIX } from '../commons/layout';
import { dayOf, type FieldError, type InvalidRecord } from '../core';
import { userRecordPosition } from '../core/keys';

/** A record the speed layer refused, kept whole with why. */
export interface QuarantinedRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** For a user record of a packed record, its index there; absent for a plain or undecodable record. */
  readonly subSequenceNumber?: number;
  readonly partitionKey: string;
  readonly approximateArrivalTimestamp: number;
  readonly reason: string;
  readonly errors: readonly FieldError[];
  /** Base64: the record's data as delivered, or the user record's (one event) for a packed record's. */
  readonly data: string;
}

/**
 * Invalid records, one object each under `quarantine/dt=<arrival day>/<shard>/<position>.json`, the
 * position being the sequence number, and for a user record of a packed record its sub-sequence
 * number too (`userRecordPosition`). The key depends only on the record, so a retried batch rewrites the
 * same objects: no duplicates.
 */
export class Quarantine {
  constructor(private readonly store: ObjectStore) {}

  static keyOf(shardId: string, record: InvalidRecord['record']): string {
    const day = dayOf(record.approximateArrivalTimestamp);
    const position = userRecordPosition(record.sequenceNumber, record.subSequenceNumber);
    return `${QUARANTINE_PREFIX}dt=${day}/${shardId}/${position}.json`;
  }

  async put(shardId: string, invalid: InvalidRecord): Promise<void> {
    const { record, reason, errors } = invalid;
    const quarantined: QuarantinedRecord = {
      shardId,
      sequenceNumber: record.sequenceNumber,
      ...(record.subSequenceNumber === undefined ? {} : { subSequenceNumber: record.subSequenceNumber }),
      partitionKey: record.partitionKey,
      approximateArrivalTimestamp: record.approximateArrivalTimestamp,
      reason,
      errors,
      data: record.data,
    };
    await this.store.put(Quarantine.keyOf(shardId, record), JSON.stringify(quarantined));
  }

  /** How many records are quarantined, and the newest `limit` of them (by when they were written). */
  async recent(limit: number): Promise<{ total: number; records: QuarantinedRecord[] }> {
    const objects = await this.store.list(QUARANTINE_PREFIX);
    const newest = objects
      .sort((a, b) => b.lastModified - a.lastModified || (a.key < b.key ? 1 : -1))
      .slice(0, limit);
    const records = await Promise.all(
      newest.map(
        async ({ key }) =>
          JSON.parse(new TextDecoder().decode(await this.store.get(key))) as QuarantinedRecord,
      ),
    );
    return { total: objects.length, records };
  }

  async list(): Promise<QuarantinedRecord[]> {
    const objects = await this.store.list(QUARANTINE_PREFIX);
    return Promise.all(
      objects.map(
        async ({ key }) =>
          JSON.parse(new TextDecoder().decode(await this.store.get(key))) as QuarantinedRecord,
      ),
    );
  }
}
