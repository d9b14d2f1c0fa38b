import { z } from 'zod';
import { MAX_DAY_TIME, ROW_SORT_KEY_BUDGET_BYTES, worstRowSortKeyBytes } from './keys';
import { MAX_GROUP_FIELDS } from './view';
import type { TimeRange } from './watermark';

/** Largest integer an event may carry: events arrive as JSON, whose numbers are exact up to here. */
export const MAX_EVENT_INTEGER = Number.MAX_SAFE_INTEGER;

/** Event times a catalog accepts unless it says otherwise: from 2000-01-01 to 2100-01-01 (exclusive), UTC. */
export const DEFAULT_TIME_RANGE: TimeRange = { from: Date.UTC(2000, 0, 1), to: Date.UTC(2100, 0, 1) };

/** Days apart within which copies of an id count once, unless a catalog says otherwise (see `dedupe.ts`). */
export const DEFAULT_DEDUPE_HORIZON_DAYS = 1;

/**
 * The longest dedupe horizon a catalog may state: a run reads this many days before each day it
 * computes, so a longer one multiplies the bytes every incremental run scans.
 */
export const MAX_DEDUPE_HORIZON_DAYS = 31;

/** Characters (code points) a string field may hold unless its spec says otherwise. */
export const DEFAULT_MAX_STRING_LENGTH = 32;

/**
 * Kinesis takes a partition key of 1 to 256 Unicode characters; the API uses the event id. Counted in
 * UTF-16 units (at most 2 per code point), so it holds however Kinesis counts.
 */
export const KINESIS_PARTITION_KEY_MAX_UNITS = 256;

export type FieldSpec = StringFieldSpec | IntegerFieldSpec;

export interface StringFieldSpec {
  readonly type: 'string';
  readonly required: boolean;
  /** The value must be one of these. */
  readonly oneOf?: readonly string[];
  /** The empty string is rejected. */
  readonly nonEmpty?: boolean;
  /**
   * Most characters (Unicode code points, as SQL's `length` counts them) the value may hold.
   * @default the longest of `oneOf`, else DEFAULT_MAX_STRING_LENGTH
   */
  readonly maxLength?: number;
}

export interface IntegerFieldSpec {
  readonly type: 'integer';
  readonly required: boolean;
  /** @default -MAX_EVENT_INTEGER */
  readonly min?: number;
  /** @default MAX_EVENT_INTEGER */
  readonly max?: number;
}

export type FieldSpecs = Readonly<Record<string, FieldSpec>>;

type ValueOf<S extends FieldSpec> = S extends IntegerFieldSpec ? number : string;

type RequiredKeys<F extends FieldSpecs> = {
  [K in keyof F]: F[K]['required'] extends true ? K : never;
}[keyof F];

/** A validated event: an optional field may be missing or null, and both mean NULL. */
export type EventOf<F extends FieldSpecs> = {
  -readonly [K in RequiredKeys<F>]: ValueOf<F[K]>;
} & {
  -readonly [K in Exclude<keyof F, RequiredKeys<F>>]?: ValueOf<F[K]> | null;
};

export interface FieldError {
  /** Dotted path of the offending field, or `event` when the record itself is wrong. */
  readonly field: string;
  readonly message: string;
}

export type ParseResult<E> = { ok: true; event: E } | { ok: false; errors: FieldError[] };

/**
 * The shape of the raw events: the one place their fields, types and validity rules are stated.
 * The zod schema (speed layer, API) and the SQL validity predicate (batch layer) are both derived
 * from it, so an event quarantined by one layer is never counted by the other.
 */
export interface EventCatalog {
  readonly name: string;
  /** Field that identifies an event: the batch layer counts its copies once within the dedupe horizon. */
  readonly idField: string;
  /** Field holding event time in epoch milliseconds. */
  readonly timeField: string;
  /** Event times accepted: the time field's bounds, and the archive's first day. */
  readonly timeRange: TimeRange;
  /**
   * Whole days within which copies of an id count once: a copy counts unless its id has a copy on one
   * of the `dedupeHorizonDays` days before its own (the rule: `deduplicateEvents` in dedupe.ts).
   */
  readonly dedupeHorizonDays: number;
  readonly fields: FieldSpecs;
  /** Each field's rules with every default applied: what the zod schema, the acceptor and the SQL derive from. */
  readonly rules: Readonly<Record<string, FieldRule>>;
  parse(input: unknown): ParseResult<Readonly<Record<string, unknown>>>;
  /** Whether `parse` would accept the input, without copying it: the speed layer's hot path. */
  accepts(input: unknown): boolean;
  /** The zod schema `parse` reports errors with (and an API can describe events with). */
  readonly schema: z.ZodType;
}

/** An event catalog that knows its fields' names and types, for typed views and events. */
export interface TypedEventCatalog<F extends FieldSpecs> extends EventCatalog {
  readonly idField: keyof F & string;
  readonly timeField: keyof F & string;
  readonly fields: F;
  parse(input: unknown): ParseResult<EventOf<F>>;
}

/** A field's rules, every default applied. */
export type FieldRule =
  | { readonly type: 'integer'; readonly required: boolean; readonly min: number; readonly max: number }
  | {
      readonly type: 'string';
      readonly required: boolean;
      readonly oneOf: readonly string[] | null;
      readonly nonEmpty: boolean;
      /** In code points; strings must also be well-formed Unicode (no lone surrogates). */
      readonly maxLength: number;
    };

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * A catalog's name: it names the archive's folder (`events/<name>/`), the Glue table (`events_<name>`)
 * and the events' `type`, so a lowercase identifier that starts with a letter.
 */
export const CATALOG_NAME_PATTERN = '[a-z][a-z0-9_]*';
const CATALOG_NAME = new RegExp(`^${CATALOG_NAME_PATTERN}$`);

/**
 * The longest catalog name: Glue takes a table name (`events_<name>`) of 1 to 255 characters; 64 leaves the
 * folder, the table and the keys that name it short, with room to spare.
 */
export const MAX_CATALOG_NAME_LENGTH = 64;

/**
 * The top-level field an event names its catalog in (`{"type": "page_view", ...}`): one rule for
 * `POST /events` and for a producer writing straight to the stream. No catalog may have a field of
 * that name. The archive keeps it out of the lines (the folder says it).
 */
export const EVENT_TYPE_FIELD = 'type';

export function integerBounds(spec: IntegerFieldSpec): { min: number; max: number } {
  return { min: spec.min ?? -MAX_EVENT_INTEGER, max: spec.max ?? MAX_EVENT_INTEGER };
}

/** Code points in a string (a lone surrogate counts as one), as SQL's `length` counts characters. */
export function codePointLength(value: string): number {
  let pairs = 0;
  for (let index = 0; index < value.length - 1; index++) {
    const unit = value.charCodeAt(index);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        pairs++;
        index++;
      }
    }
  }
  return value.length - pairs;
}

/** Whether a string holds at most `max` code points; no counting while its UTF-16 length says so. */
const withinLength = (value: string, max: number): boolean =>
  value.length <= max || codePointLength(value) <= max;

const timeMessage = (min: number, max: number) =>
  `must be from ${new Date(min).toISOString()} (${min}) to ${new Date(max).toISOString()} (${max}) in epoch milliseconds`;

function fieldSchema(rule: FieldRule, isTime: boolean): z.ZodType {
  let schema: z.ZodType;
  if (rule.type === 'integer') {
    const message = isTime ? timeMessage(rule.min, rule.max) : undefined;
    schema = z.int().min(rule.min, message).max(rule.max, message);
  } else {
    // Each rule applies alone, as in the SQL validity predicate: oneOf and nonEmpty may both hold. An
    // option is well-formed and within the length: oneOf says it all.
    const max = rule.maxLength;
    const base: z.ZodType<string> =
      rule.oneOf !== null
        ? z.enum(rule.oneOf as [string, ...string[]])
        : z
            .string()
            .refine((value) => value.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)')
            .refine((value) => withinLength(value, max), `at most ${max} characters`);
    schema = rule.nonEmpty ? base.refine((value) => value.length > 0, 'must not be empty') : base;
  }
  // No transform to null: it would double the cost of parsing, and readers treat missing as NULL.
  return rule.required ? schema : schema.nullish();
}

function ruleOf(catalog: string, name: string, spec: FieldSpec, timeRange: TimeRange | null): FieldRule {
  if (spec.type === 'integer') {
    let { min, max } = integerBounds(spec);
    // The time field's bounds are the time range's, narrowed by any the field states.
    if (timeRange !== null) {
      min = Math.max(min, timeRange.from);
      max = Math.min(max, timeRange.to - 1);
    }
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min > max)
      throw new Error(`event catalog ${catalog}: field ${name} has bad bounds [${min}, ${max}]`);
    return { type: 'integer', required: spec.required, min, max };
  }
  const oneOf = spec.oneOf ?? null;
  if (oneOf?.some((option) => !option.isWellFormed()))
    throw new Error(`event catalog ${catalog}: field ${name} has an option that is not well-formed Unicode`);
  const longest = oneOf === null ? null : Math.max(0, ...oneOf.map(codePointLength));
  const maxLength = spec.maxLength ?? longest ?? DEFAULT_MAX_STRING_LENGTH;
  if (!Number.isSafeInteger(maxLength) || maxLength < 0)
    throw new Error(`event catalog ${catalog}: field ${name} has a bad maxLength ${maxLength}`);
  if (longest !== null && longest > maxLength)
    throw new Error(`event catalog ${catalog}: field ${name} has an option longer than its maxLength`);
  return { type: 'string', required: spec.required, oneOf, nonEmpty: spec.nonEmpty === true, maxLength };
}

/**
 * Refuses bounds a layer downstream would refuse: every group key (up to MAX_GROUP_FIELDS string
 * fields, the longest ones at worst) must fit a DynamoDB sort key with room, and the id a Kinesis
 * partition key.
 */
function checkKeyLimits(catalog: string, idField: string, rules: Readonly<Record<string, FieldRule>>): void {
  const lengths = Object.values(rules)
    .flatMap((rule) => (rule.type === 'string' ? [rule.maxLength] : []))
    .sort((a, b) => b - a)
    .slice(0, MAX_GROUP_FIELDS);
  const worst = worstRowSortKeyBytes(lengths);
  if (worst > ROW_SORT_KEY_BUDGET_BYTES)
    throw new Error(
      `event catalog ${catalog}: a group of its longest string fields (${lengths.join(', ')} characters) ` +
        `could make a ${worst}-byte sort key; at most ${ROW_SORT_KEY_BUDGET_BYTES}: lower some maxLength`,
    );
  const id = rules[idField];
  if (id?.type !== 'string' || !id.required || !id.nonEmpty)
    throw new Error(`event catalog ${catalog}: id field ${idField} must be a required, nonEmpty string`);
  if (id.maxLength * 2 > KINESIS_PARTITION_KEY_MAX_UNITS)
    throw new Error(
      `event catalog ${catalog}: id field ${idField} may hold ${id.maxLength} characters; ` +
        `a Kinesis partition key takes at most ${KINESIS_PARTITION_KEY_MAX_UNITS / 2} at 2 UTF-16 units each`,
    );
}

export function defineEventCatalog<const F extends FieldSpecs>(definition: {
  name: string;
  idField: keyof F & string;
  timeField: keyof F & string;
  /** @default DEFAULT_TIME_RANGE */
  timeRange?: TimeRange;
  /** Whole days, 0 (copies on different days all count) to MAX_DEDUPE_HORIZON_DAYS. @default DEFAULT_DEDUPE_HORIZON_DAYS */
  dedupeHorizonDays?: number;
  fields: F;
}): TypedEventCatalog<F> {
  const { name, idField, timeField, fields } = definition;
  if (!CATALOG_NAME.test(name))
    throw new Error(`event catalog ${name}: its name is not ${CATALOG_NAME_PATTERN}`);
  if (name.length > MAX_CATALOG_NAME_LENGTH)
    throw new Error(
      `event catalog ${name}: its name has ${name.length} characters; at most ${MAX_CATALOG_NAME_LENGTH} ` +
        `(it names the Glue table events_<name>)`,
    );
  if (Object.hasOwn(fields, EVENT_TYPE_FIELD))
    throw new Error(
      `event catalog ${name}: a field may not be named ${EVENT_TYPE_FIELD}: events name their catalog in it`,
    );
  const timeRange = definition.timeRange ?? DEFAULT_TIME_RANGE;
  const dedupeHorizonDays = definition.dedupeHorizonDays ?? DEFAULT_DEDUPE_HORIZON_DAYS;
  if (
    !Number.isSafeInteger(dedupeHorizonDays) ||
    dedupeHorizonDays < 0 ||
    dedupeHorizonDays > MAX_DEDUPE_HORIZON_DAYS
  )
    throw new Error(
      `event catalog ${name}: dedupeHorizonDays ${dedupeHorizonDays} must be a whole number of days from 0 to ${MAX_DEDUPE_HORIZON_DAYS}`,
    );
  const { from, to } = timeRange;
  // Every accepted time must have a day (`dayOf`): the archive files events by it.
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to > MAX_DAY_TIME || from >= to)
    throw new Error(
      `event catalog ${name}: time range [${from}, ${to}) must be integers with 0 <= from < to <= ${MAX_DAY_TIME}`,
    );
  for (const field of Object.keys(fields))
    if (!IDENTIFIER.test(field))
      throw new Error(`event catalog ${name}: field name ${field} is not [a-z_][a-z0-9_]*`);
  const idSpec = fields[idField];
  if (idSpec?.type !== 'string' || !idSpec.required) {
    throw new Error(`event catalog ${name}: id field ${idField} must be a required string`);
  }
  const timeSpec = fields[timeField];
  if (timeSpec?.type !== 'integer' || !timeSpec.required || integerBounds(timeSpec).min < 0) {
    throw new Error(`event catalog ${name}: time field ${timeField} must be a required integer >= 0`);
  }
  const rules: Record<string, FieldRule> = Object.fromEntries(
    Object.entries(fields).map(([field, spec]) => [
      field,
      ruleOf(name, field, spec, field === timeField ? timeRange : null),
    ]),
  );
  checkKeyLimits(name, idField, rules);
  const schema = z.object(
    Object.fromEntries(
      Object.entries(rules).map(([field, rule]) => [field, fieldSchema(rule, field === timeField)]),
    ),
  );
  const accepts = compileAcceptor(rules);
  const known = Object.keys(fields);
  return {
    name,
    idField,
    timeField,
    timeRange: { from, to },
    dedupeHorizonDays,
    fields,
    rules,
    accepts,
    schema,
    parse(input) {
      if (accepts(input)) {
        // As zod does: keep the catalog's fields only.
        const event: Record<string, unknown> = {};
        for (const field of known) {
          const value = (input as Record<string, unknown>)[field];
          if (value !== undefined) event[field] = value;
        }
        return { ok: true, event: event as EventOf<F> };
      }
      const result = schema.safeParse(input);
      if (result.success) return { ok: true, event: result.data as EventOf<F> };
      return {
        ok: false,
        errors: result.error.issues.map((issue) => ({
          field: issue.path.length > 0 ? issue.path.join('.') : 'event',
          message: issue.message,
        })),
      };
    },
  };
}

/**
 * The zod schema's rules as straight-line checks, for the speed layer's hot path: zod's object
 * parse costs about as much as decoding the record. Anything it refuses goes through zod, which
 * names the fields. A property test holds the two to the same answers.
 */
function compileAcceptor(rules: Readonly<Record<string, FieldRule>>): (input: unknown) => boolean {
  const checks = Object.entries(rules).map(([name, rule]) => {
    let check: (value: unknown) => boolean;
    if (rule.type === 'integer') {
      const { min, max } = rule;
      check = (value) => Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
    } else if (rule.oneOf !== null) {
      // An option is well-formed and within maxLength: equality says it all.
      const allowed = new Set<unknown>(rule.oneOf);
      const nonEmpty = rule.nonEmpty;
      check = (value) => allowed.has(value) && (!nonEmpty || (value as string).length > 0);
    } else {
      const { nonEmpty, maxLength } = rule;
      check = (value) =>
        typeof value === 'string' &&
        (!nonEmpty || value.length > 0) &&
        withinLength(value, maxLength) &&
        value.isWellFormed();
    }
    return { name, required: rule.required, check };
  });
  return (input) => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return false;
    for (const { name, required, check } of checks) {
      const value = (input as Record<string, unknown>)[name];
      if (value === undefined || value === null) {
        if (required) return false;
      } else if (!check(value)) {
        return false;
      }
    }
    return true;
  };
}

/** Which catalog an event belongs to, by its `type`: the catalog, or the one error naming `type`. */
export type CatalogOfResult = { ok: true; catalog: EventCatalog } | { ok: false; error: FieldError };

/** The stack's event catalogs (`events.ts`): every catalog, and the one an event names by its `type`. */
export interface EventCatalogs {
  /** In the order defined. */
  readonly all: readonly EventCatalog[];
  /** Their names, which are the events' types, in the order defined. */
  readonly names: readonly string[];
  get(name: string): EventCatalog | undefined;
  /** The catalog `input.type` names, or why there is none (missing, not a string, unknown). */
  catalogOf(input: unknown): CatalogOfResult;
  /** `catalogOf`, then the catalog's `parse`: the event (its catalog's fields only) with its catalog. */
  parse(input: unknown):
    | { ok: true; catalog: EventCatalog; event: Readonly<Record<string, unknown>> }
    | {
        ok: false;
        /** Null when the type named none. */
        catalog: EventCatalog | null;
        errors: FieldError[];
      };
}

/** The catalogs an event may name, one per type; names are unique (each is a folder and a table). */
export function defineEventCatalogs(catalogs: readonly EventCatalog[]): EventCatalogs {
  if (catalogs.length === 0) throw new Error('event catalogs: define at least one');
  const byName = new Map<string, EventCatalog>();
  for (const catalog of catalogs) {
    if (byName.has(catalog.name)) throw new Error(`event catalogs: two catalogs are named ${catalog.name}`);
    byName.set(catalog.name, catalog);
  }
  const names = [...byName.keys()];
  const known = `one of ${names.join(', ')}`;
  const catalogOf = (input: unknown): CatalogOfResult => {
    const type =
      typeof input === 'object' && input !== null && !Array.isArray(input)
        ? (input as Record<string, unknown>)[EVENT_TYPE_FIELD]
        : undefined;
    if (typeof type === 'string') {
      const catalog = byName.get(type);
      if (catalog !== undefined) return { ok: true, catalog };
      return {
        ok: false,
        error: { field: EVENT_TYPE_FIELD, message: `unknown event type ${JSON.stringify(type)}: ${known}` },
      };
    }
    const message =
      type === undefined || type === null ? `no ${EVENT_TYPE_FIELD}: ${known}` : `not a string: ${known}`;
    return { ok: false, error: { field: EVENT_TYPE_FIELD, message } };
  };
  return {
    all: [...byName.values()],
    names,
    get: (name) => byName.get(name),
    catalogOf,
    parse(input) {
      const found = catalogOf(input);
      if (!found.ok) return { ok: false, catalog: null, errors: [found.error] };
      const parsed = found.catalog.parse(input);
      return parsed.ok
        ? { ok: true, catalog: found.catalog, event: parsed.event }
        : { ok: false, catalog: found.catalog, errors: parsed.errors };
    },
  };
}
