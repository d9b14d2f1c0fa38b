import type { EventCatalog } from './catalog';
import { dayOf } from './keys';
import { decodeRecord, type StreamRecord } from './speed';

export type ArchivedRecord =
  | { readonly ok: true; readonly day: string; readonly line: string }
  | { readonly ok: false; readonly reason: string };

/**
 * What the raw archive keeps of a stream record: the event as the speed layer decodes it, one JSON
 * line, filed under its event-time day. Invalid records are left out (the speed layer quarantines
 * them), so the batch layer never reads a value the speed layer refused. Firehose's transformation
 * Lambda and the local archiver both call this.
 */
export function archiveRecord(catalog: EventCatalog, record: StreamRecord): ArchivedRecord {
  const decoded = decodeRecord(catalog, record);
  if (!decoded.ok) return { ok: false, reason: decoded.reason };
  const parsed = catalog.parse(decoded.event);
  if (!parsed.ok) return { ok: false, reason: 'fails the schema' };
  const ts = parsed.event[catalog.timeField] as number;
  return { ok: true, day: dayOf(ts), line: `${JSON.stringify(parsed.event)}\n` };
}
