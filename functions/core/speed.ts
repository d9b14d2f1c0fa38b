import type { EventCatalog, FieldError } from './catalog';
import type { CompiledView } from './compile-js';
import { type GroupValue, padSequence, speedItemKey } from './keys';
import type { ViewRow } from './rows';
import { ViewRows } from './rows';
import type { ViewDefinition } from './view';

/** One stream record as the speed layer sees it: Kinesis's fields, data still base64. */
export interface StreamRecord {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  /** Base64, as Lambda delivers it. */
  readonly data: string;
  readonly approximateArrivalTimestamp: number;
}

export interface InvalidRecord {
  readonly record: StreamRecord;
  readonly reason: string;
  readonly errors: readonly FieldError[];
}

export type DecodedRecord =
  | { readonly ok: true; readonly record: StreamRecord; readonly event: Readonly<Record<string, unknown>> }
  | ({ readonly ok: false } & InvalidRecord);

/** base64 -> UTF-8 JSON -> the catalog's schema. */
export function decodeRecord(catalog: EventCatalog, record: StreamRecord): DecodedRecord {
  let input: unknown;
  try {
    input = JSON.parse(Buffer.from(record.data, 'base64').toString('utf8'));
  } catch (error) {
    return { ok: false, record, reason: `not JSON: ${(error as Error).message}`, errors: [] };
  }
  const parsed = catalog.parse(input);
  if (parsed.ok) return { ok: true, record, event: parsed.event };
  const fields = [...new Set(parsed.errors.map((error) => error.field))].join(', ');
  return { ok: false, record, reason: `fails the ${catalog.name} schema: ${fields}`, errors: parsed.errors };
}

/** One event's row in one view, with the record it came from. */
export interface Contribution {
  /** Padded sequence number of the record. */
  readonly sequence: string;
  readonly row: ViewRow;
}

/** Everything a batch adds to one speed item: its key and the contributions in stream order. */
export interface SpeedKeyPlan {
  readonly view: ViewDefinition;
  readonly pk: string;
  readonly sk: string;
  readonly bucket: number;
  readonly group: readonly GroupValue[];
  readonly contributions: Contribution[];
}

export interface SpeedPlan {
  /** By `pk|sk`, in the order keys first appear in the batch. */
  readonly keys: Map<string, SpeedKeyPlan>;
  /** Valid records no view could evaluate (an expression overflowed): quarantined too. */
  readonly unevaluable: InvalidRecord[];
}

/**
 * Groups a shard's valid events, in sequence order, by the speed item each view row lands in.
 * A record contributes to every view or, if one view cannot evaluate it, to none.
 */
export function planSpeedWrites(
  views: readonly CompiledView[],
  events: readonly { readonly record: StreamRecord; readonly event: Readonly<Record<string, unknown>> }[],
): SpeedPlan {
  const keys = new Map<string, SpeedKeyPlan>();
  const unevaluable: InvalidRecord[] = [];
  for (const { record, event } of events) {
    const sequence = padSequence(record.sequenceNumber);
    let rows: { compiled: CompiledView; row: ViewRow }[];
    try {
      rows = views.flatMap((compiled) => {
        const row = compiled.rowOf(event);
        return row === null ? [] : [{ compiled, row }];
      });
    } catch (error) {
      unevaluable.push({ record, reason: `cannot be evaluated: ${(error as Error).message}`, errors: [] });
      continue;
    }
    for (const { compiled, row } of rows) {
      const { pk, sk } = speedItemKey(compiled.view, row.bucket, row.group);
      const id = `${pk}|${sk}`;
      let plan = keys.get(id);
      if (plan === undefined) {
        plan = { view: compiled.view, pk, sk, bucket: row.bucket, group: row.group, contributions: [] };
        keys.set(id, plan);
      }
      plan.contributions.push({ sequence, row });
    }
  }
  return { keys, unevaluable };
}

/** The monoid sum of a key's contributions after `afterSequence` (all when null), or null if none. */
export function deltaAfter(plan: SpeedKeyPlan, afterSequence: string | null): ViewRow | null {
  const rows = new ViewRows(plan.view);
  for (const { sequence, row } of plan.contributions) {
    if (afterSequence === null || sequence > afterSequence) rows.add(row);
  }
  return rows.sorted()[0] ?? null;
}
