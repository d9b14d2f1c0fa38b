import { z } from 'zod';

/** Largest integer an event may carry: events arrive as JSON, whose numbers are exact up to here. */
export const MAX_EVENT_INTEGER = Number.MAX_SAFE_INTEGER;

export type FieldSpec = StringFieldSpec | IntegerFieldSpec;

export interface StringFieldSpec {
  readonly type: 'string';
  readonly required: boolean;
  /** The value must be one of these. */
  readonly oneOf?: readonly string[];
  /** The empty string is rejected. */
  readonly nonEmpty?: boolean;
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
  /** Field that identifies an event; the batch layer keeps one event per id. */
  readonly idField: string;
  /** Field holding event time in epoch milliseconds. */
  readonly timeField: string;
  readonly fields: FieldSpecs;
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

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

export function integerBounds(spec: IntegerFieldSpec): { min: number; max: number } {
  return { min: spec.min ?? -MAX_EVENT_INTEGER, max: spec.max ?? MAX_EVENT_INTEGER };
}

function fieldSchema(spec: FieldSpec): z.ZodType {
  let schema: z.ZodType;
  if (spec.type === 'integer') {
    const { min, max } = integerBounds(spec);
    schema = z.int().min(min).max(max);
  } else {
    // Each rule applies alone, as in the SQL validity predicate: oneOf and nonEmpty may both hold.
    const base = spec.oneOf ? z.enum(spec.oneOf as [string, ...string[]]) : z.string();
    schema = spec.nonEmpty ? base.refine((value) => value.length > 0, 'must not be empty') : base;
  }
  // No transform to null: it would double the cost of parsing, and readers treat missing as NULL.
  return spec.required ? schema : schema.nullish();
}

export function defineEventCatalog<const F extends FieldSpecs>(definition: {
  name: string;
  idField: keyof F & string;
  timeField: keyof F & string;
  fields: F;
}): TypedEventCatalog<F> {
  const { name, idField, timeField, fields } = definition;
  for (const [field, spec] of Object.entries(fields)) {
    if (!IDENTIFIER.test(field))
      throw new Error(`event catalog ${name}: field name ${field} is not [a-z_][a-z0-9_]*`);
    if (spec.type === 'integer') {
      const { min, max } = integerBounds(spec);
      if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min > max) {
        throw new Error(`event catalog ${name}: field ${field} has bad bounds [${min}, ${max}]`);
      }
    }
  }
  const idSpec = fields[idField];
  if (idSpec?.type !== 'string' || !idSpec.required) {
    throw new Error(`event catalog ${name}: id field ${idField} must be a required string`);
  }
  const timeSpec = fields[timeField];
  if (timeSpec?.type !== 'integer' || !timeSpec.required || integerBounds(timeSpec).min < 0) {
    throw new Error(`event catalog ${name}: time field ${timeField} must be a required integer >= 0`);
  }
  const schema = z.object(
    Object.fromEntries(Object.entries(fields).map(([field, spec]) => [field, fieldSchema(spec)])),
  );
  const accepts = compileAcceptor(fields);
  const known = Object.keys(fields);
  return {
    name,
    idField,
    timeField,
    fields,
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
function compileAcceptor(fields: FieldSpecs): (input: unknown) => boolean {
  const checks = Object.entries(fields).map(([name, spec]) => {
    let check: (value: unknown) => boolean;
    if (spec.type === 'integer') {
      const { min, max } = integerBounds(spec);
      check = (value) => Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
    } else {
      const allowed = spec.oneOf ? new Set<unknown>(spec.oneOf) : null;
      const nonEmpty = spec.nonEmpty === true;
      check = (value) =>
        typeof value === 'string' &&
        (allowed === null || allowed.has(value)) &&
        (!nonEmpty || value.length > 0);
    }
    return { name, required: spec.required, check };
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
