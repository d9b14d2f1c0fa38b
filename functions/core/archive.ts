import type { EventCatalogs } from './catalog';
import { dayOf } from './keys';
import { decodeRecord, type StreamRecord } from './speed';

export type ArchivedRecord =
  /** Filed under its catalog's folder (`type`, the catalog's name) and its event-time day. */
  | { readonly ok: true; readonly type: string; readonly day: string; readonly line: string }
  /**
   * Left out: `invalid` when the event fails the catalog (the speed layer quarantines it, so Firehose
   * drops it), else a valid event the archive cannot file (Firehose keeps it under its error prefix).
   */
  | { readonly ok: false; readonly invalid: boolean; readonly reason: string };

/**
 * What the raw archive keeps of a stream record: the event as the speed layer decodes it (its catalog's
 * fields: the `type` is the folder), one JSON line, filed under its catalog and event-time day. Invalid
 * records (an unknown or missing type too) are left out (the speed layer quarantines
 * them), so the batch layer never reads a value the speed layer refused, nor a line its JSON reader
 * cannot read (a lone surrogate fails the catalog). Firehose's transformation Lambda and the local
 * archiver both call this.
 */
export function archiveRecord(catalogs: EventCatalogs, record: StreamRecord): ArchivedRecord {
  const decoded = decodeRecord(catalogs, record);
  if (!decoded.ok) return { ok: false, invalid: true, reason: decoded.reason };
  const { catalog } = decoded;
  const parsed = catalog.parse(decoded.event);
  if (!parsed.ok) return { ok: false, invalid: true, reason: 'fails the schema' };
  const ts = parsed.event[catalog.timeField] as number;
  let day: string;
  try {
    day = dayOf(ts);
  } catch (error) {
    // The catalog's time range keeps every valid time within dayOf's; a catalog that did not would land here.
    return { ok: false, invalid: false, reason: `no event-time day: ${(error as Error).message}` };
  }
  return { ok: true, type: catalog.name, day, line: `${JSON.stringify(parsed.event)}\n` };
}
