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

/** A validated event: optional fields that were missing or null are `null`. */
export type EventOf<F extends FieldSpecs> = {
  -readonly [K in keyof F]: F[K]['required'] extends true ? ValueOf<F[K]> : ValueOf<F[K]> | null;
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
  return spec.required ? schema : schema.nullish().transform((value) => value ?? null);
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
  return {
    name,
    idField,
    timeField,
    fields,
    parse(input) {
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
