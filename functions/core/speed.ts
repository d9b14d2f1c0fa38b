import type { EventCatalog, EventCatalogs, FieldError } from './catalog';
import type { CompiledView, PartialValue } from './compile-js';
import { type GroupValue, KeyTooLargeError, padSequence, speedItemKey } from './keys';
import { type DistinctSet, monoidOf } from './monoid';
import type { ViewRow } from './rows';
import { DistinctSketch } from './sketch';
import type { ViewDefinition } from './view';

/**
 * One user record (one event) as the speed layer sees it: Kinesis's fields, data still base64. A plain
 * Kinesis record is one user record; a packed (KPL aggregated) one holds several, which share its
 * sequence number, partition key aside, and are told apart by their sub-sequence number.
 */
export interface StreamRecord {
  /** Sequence number of the Kinesis record it came in. */
  readonly sequenceNumber: string;
  /** Its index in a packed record; absent for a plain record. */
  readonly subSequenceNumber?: number;
  readonly partitionKey: string;
  /** Base64: the record as Lambda delivers it, or the user record's bytes. */
  readonly data: string;
  readonly approximateArrivalTimestamp: number;
}

export interface InvalidRecord {
  readonly record: StreamRecord;
  readonly reason: string;
  readonly errors: readonly FieldError[];
}

/** A valid event with the record it came in and the catalog its `type` names. */
export interface DecodedEvent {
  readonly record: StreamRecord;
  readonly event: Readonly<Record<string, unknown>>;
  readonly catalog: EventCatalog;
}

export type DecodedRecord = ({ readonly ok: true } & DecodedEvent) | ({ readonly ok: false } & InvalidRecord);

/** base64 -> UTF-8 JSON -> the catalog its `type` names -> that catalog's schema. */
export function decodeRecord(catalogs: EventCatalogs, record: StreamRecord): DecodedRecord {
  let input: unknown;
  try {
    input = JSON.parse(Buffer.from(record.data, 'base64').toString('utf8'));
  } catch (error) {
    return { ok: false, record, reason: `not JSON: ${(error as Error).message}`, errors: [] };
  }
  const found = catalogs.catalogOf(input);
  if (!found.ok) return { ok: false, record, reason: found.error.message, errors: [found.error] };
  const { catalog } = found;
  // Valid events are used as parsed: fields the catalog does not know (`type` among them) are never read.
  if (catalog.accepts(input))
    return { ok: true, record, catalog, event: input as Readonly<Record<string, unknown>> };
  const parsed = catalog.parse(input);
  if (parsed.ok) return { ok: true, record, catalog, event: parsed.event };
  const fields = [...new Set(parsed.errors.map((error) => error.field))].join(', ');
  return { ok: false, record, reason: `fails the ${catalog.name} schema: ${fields}`, errors: parsed.errors };
}

/**
 * One event that counts in a speed item, with the Kinesis record it came from.
 *
 * Checkpoints need no sub-sequence number. Lambda delivers, retries and bisects whole Kinesis
 * records, and a batch de-aggregates each of its packed records entirely, so a speed item's delta
 * always holds every contribution of each Kinesis record in the batch, or none: which user records
 * of a Kinesis record count (valid, evaluable) depends on their bytes alone. So an item that applied
 * a record at sequence s applied all of s's user records, and "after checkpoint s" is "after every
 * user record of s", whatever its sub-sequence numbers.
 */
export interface Contribution {
  /** Sequence number of the Kinesis record, as Kinesis gives it (shared by a packed record's events). */
  readonly sequenceNumber: string;
  readonly event: Readonly<Record<string, unknown>>;
  /** Its index in the events planned: what else the batch knows of it (its arrival) is found by it. */
  readonly position: number;
}

/** Everything a batch adds to one speed item: its key and the contributions in stream order. */
export interface SpeedKeyPlan {
  readonly view: ViewDefinition;
  readonly compiled: CompiledView;
  readonly pk: string;
  readonly sk: string;
  readonly bucket: number;
  readonly group: readonly GroupValue[];
  readonly contributions: Contribution[];
  /** The monoid sum of all contributions, in `compiled.measureNames` order, kept as they are added. */
  readonly totals: PartialValue[];
}

export interface SpeedPlan {
  /** In the order keys first appear in the batch. */
  readonly keys: Map<string, SpeedKeyPlan>;
  /**
   * Valid records no view could evaluate (an expression overflowed) or whose speed item DynamoDB would
   * refuse (a key over its limit): quarantined too, never retried.
   */
  readonly unevaluable: InvalidRecord[];
}

/**
 * Groups a shard's valid events, in sequence order, by the speed item each view row lands in,
 * pre-aggregating into each item's totals as it goes. An event counts in the views of its catalog only.
 * A record contributes to every such view or, if one of them cannot evaluate it, to none.
 */
export function planSpeedWrites(
  views: readonly CompiledView[],
  events: readonly Pick<DecodedEvent, 'record' | 'event' | 'catalog'>[],
): SpeedPlan {
  const keys = new Map<string, SpeedKeyPlan>();
  const unevaluable: InvalidRecord[] = [];
  const touched: SpeedKeyPlan[] = [];
  const spoiled = new Set<SpeedKeyPlan>();
  // Per view, bucket, then group: no key string built per event.
  const index = views.map(() => new Map<number, Map<unknown, SpeedKeyPlan>>());
  // The views' indexes by catalog name, once per batch: an event looks up its catalog's, not every view.
  const viewsOfCatalog = new Map<string, number[]>();
  views.forEach((compiled, at) => {
    const name = compiled.view.events.name;
    viewsOfCatalog.set(name, [...(viewsOfCatalog.get(name) ?? []), at]);
  });
  const none: number[] = [];
  for (let position = 0; position < events.length; position++) {
    const { record, event, catalog } = events[position] as (typeof events)[number];
    touched.length = 0;
    const counting = viewsOfCatalog.get(catalog.name) ?? none;
    // Outside the loop: when a record fails, the view it failed in.
    let viewIndex = 0;
    try {
      for (let at = 0; at < counting.length; at++) {
        viewIndex = counting[at] as number;
        const compiled = views[viewIndex] as CompiledView;
        if (!compiled.matches(event)) continue;
        const bucket = compiled.bucketOf(event);
        const buckets = index[viewIndex] as Map<number, Map<unknown, SpeedKeyPlan>>;
        let groups = buckets.get(bucket);
        if (groups === undefined) {
          groups = new Map();
          buckets.set(bucket, groups);
        }
        const groupId = compiled.groupIdOf(event);
        let plan = groups.get(groupId);
        if (plan === undefined) {
          const group = compiled.groupOf(event);
          const { pk, sk } = speedItemKey(compiled.view, bucket, group);
          plan = {
            view: compiled.view,
            compiled,
            pk,
            sk,
            bucket,
            group,
            contributions: [],
            totals: compiled.zeros(),
          };
          groups.set(groupId, plan);
          keys.set(`${pk}|${sk}`, plan);
        }
        touched.push(plan);
        compiled.accumulate(event, plan.totals);
      }
    } catch (error) {
      // Totals already touched by this record are rebuilt from their contributions below.
      for (const plan of touched) spoiled.add(plan);
      unevaluable.push(
        error instanceof KeyTooLargeError
          ? tooLargeKeyRecord(views[viewIndex] as CompiledView, event, record, error)
          : { record, reason: `cannot be evaluated: ${(error as Error).message}`, errors: [] },
      );
      continue;
    }
    for (const plan of touched)
      plan.contributions.push({ sequenceNumber: record.sequenceNumber, event, position });
  }
  for (const plan of spoiled) {
    const rebuilt = plan.compiled.zeros();
    for (const { event } of plan.contributions) plan.compiled.accumulate(event, rebuilt);
    plan.totals.splice(0, plan.totals.length, ...rebuilt);
  }
  for (const [id, plan] of keys) if (plan.contributions.length === 0) keys.delete(id);
  return { keys, unevaluable };
}

/**
 * A record whose speed item key DynamoDB would refuse, quarantined with the fields that make it: the
 * view's group fields for a sort key (longest first), its name for a partition key.
 */
function tooLargeKeyRecord(
  compiled: CompiledView,
  event: Readonly<Record<string, unknown>>,
  record: StreamRecord,
  error: KeyTooLargeError,
): InvalidRecord {
  const { view } = compiled;
  const errors: FieldError[] =
    error.attribute === 'pk'
      ? [{ field: 'view', message: `view name ${view.name} makes a partition key over DynamoDB's limit` }]
      : view.groupBy
          .map((field) => ({ field, bytes: Buffer.byteLength(JSON.stringify(event[field] ?? null), 'utf8') }))
          .sort((a, b) => b.bytes - a.bytes)
          .map(({ field, bytes }) => ({ field, message: `${bytes} bytes in the speed item's sort key` }));
  const fields = errors.map(({ field }) => field).join(', ');
  return {
    record,
    reason: `speed item of view ${view.name} too large for DynamoDB: ${error.message}: ${fields}`,
    errors,
  };
}

/**
 * A speed item's delta: its row (the delta's own values) and, per distinct measure, the delta's distinct
 * values, which the item's sketch absorbs (a count of the delta alone could not be added to anything).
 */
export interface SpeedDeltaRow extends ViewRow {
  readonly distinctValues: Readonly<Record<string, DistinctSet>>;
}

/**
 * A delta's counters by the DynamoDB operation their monoid's `storage` names; null values (zeros) skipped.
 * Distinct measures are not here: their values go to `mergedSketches`.
 */
export interface SpeedItemWrites {
  /** `ADD`ed once, under the shard's checkpoint. */
  readonly adds: readonly { readonly measure: string; readonly value: bigint }[];
  /** Set by a `SET` conditional on the value being more extreme: idempotent, applied from every contribution. */
  readonly extremes: readonly {
    readonly measure: string;
    readonly keep: 'min' | 'max';
    readonly value: bigint;
  }[];
}

export function speedItemWrites(view: ViewDefinition, row: ViewRow): SpeedItemWrites {
  const adds: { measure: string; value: bigint }[] = [];
  const extremes: { measure: string; keep: 'min' | 'max'; value: bigint }[] = [];
  for (const [measure, definition] of Object.entries(view.measures)) {
    const { storage } = monoidOf(definition);
    const value = row.values[measure] ?? null;
    if (storage === 'sketch' || value === null) continue;
    if (storage === 'add') adds.push({ measure, value });
    else extremes.push({ measure, keep: storage === 'extreme-min' ? 'min' : 'max', value });
  }
  return { adds, extremes };
}

/**
 * An item's sketches after a delta: per distinct measure with values in the delta, those values sketched
 * at the view's precision and merged with the sketch the item holds (read with its sketch version), so
 * the write `SET`s the union of every shard's values.
 */
export function mergedSketches(
  view: ViewDefinition,
  stored: ReadonlyMap<string, DistinctSketch>,
  distinctValues: SpeedDeltaRow['distinctValues'],
): { readonly measure: string; readonly sketch: DistinctSketch }[] {
  return Object.entries(distinctValues)
    .filter(([, values]) => values.size > 0)
    .map(([measure, values]) => {
      const sketch = DistinctSketch.of(view.distinctPrecision, values);
      const before = stored.get(measure);
      return { measure, sketch: before === undefined ? sketch : sketch.merge(before) };
    });
}

const toRow = (plan: SpeedKeyPlan, totals: readonly PartialValue[]): SpeedDeltaRow => ({
  bucket: plan.bucket,
  group: plan.group,
  values: plan.compiled.valuesOf(totals),
  distinctValues: plan.compiled.distinctValuesOf(totals),
});

/**
 * The monoid sum of a key's contributions after a checkpoint (a padded sequence number; all when
 * null), or null if none.
 */
export function deltaAfter(plan: SpeedKeyPlan, afterSequence: string | null): SpeedDeltaRow | null {
  // Contributions are in stream order: a checkpoint below the first is below them all (the usual case,
  // met by every read-first write), and the totals kept while planning are the delta.
  const first = plan.contributions[0];
  if (afterSequence === null || (first !== undefined && padSequence(first.sequenceNumber) > afterSequence))
    return toRow(plan, plan.totals);
  let totals: PartialValue[] | null = null;
  for (const { sequenceNumber, event } of plan.contributions) {
    if (padSequence(sequenceNumber) <= afterSequence) continue;
    totals ??= plan.compiled.zeros();
    plan.compiled.accumulate(event, totals);
  }
  return totals === null ? null : toRow(plan, totals);
}
