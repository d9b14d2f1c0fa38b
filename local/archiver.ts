import { gzipSync } from 'node:zlib';
import type { KinesisStreamEvent } from 'aws-lambda';
import type { ObjectStore } from '../functions/adapters/object-store';
import { archiveRecord, type EventCatalog } from '../functions/core';
import { shardIdOf, toStreamRecord } from '../functions/speed/processor';

/**
 * The local stand-in for Firehose: a Kinesis handler (fed by the local consumer) that writes each
 * batch's valid events as gzip JSON lines under `events/dt=<event day>/`, the archive's layout. A
 * redelivered batch may write a record twice; the batch layer keeps one event per id.
 */
export function localArchiver(catalog: EventCatalog, archive: ObjectStore) {
  return async (event: KinesisStreamEvent): Promise<void> => {
    const first = event.Records[0];
    if (first === undefined) return;
    const byDay = new Map<string, string[]>();
    for (const record of event.Records) {
      const archived = archiveRecord(catalog, toStreamRecord(record));
      if (!archived.ok) continue;
      const lines = byDay.get(archived.day) ?? [];
      lines.push(archived.line);
      byDay.set(archived.day, lines);
    }
    const name = `${shardIdOf(first)}-${first.kinesis.sequenceNumber}.json.gz`;
    for (const [day, lines] of byDay) {
      await archive.put(`events/dt=${day}/${name}`, gzipSync(lines.join('')), 'application/gzip');
    }
  };
}
