/**
 * The API's request bodies as zod schemas: what the routes validate bodies with and what the OpenAPI
 * document shows of them (z.toJSONSchema), so the two cannot differ.
 */
import { z } from 'zod';
import { EXPORT_FORMATS } from '../commons/layout';
import { EVENT_TYPE_FIELD, type EventCatalog, type EventCatalogs, MAX_DAY_TIME } from '../core';
import { RUN_ID } from '../core/keys';
import { MAX_EVENTS_PER_REQUEST } from './limits';

/** What the request schemas depend on: the views a request may name, the events it may send. */
export interface ApiSurface {
  readonly viewNames: readonly string[];
  /** Without them, an event is documented as any JSON value. */
  readonly catalogs?: EventCatalogs;
}

/** Latest time accepted: the last millisecond that has a day (readers name days with `dayOf`). */
const MAX_TIME = MAX_DAY_TIME - 1;
const TIME_FORMS = 'epoch ms or ISO 8601 with a zone';

/** Epoch milliseconds, or an ISO 8601 date-time (a time zone is required, so no local-time guesses). */
function epochMsOf(text: string): number | null {
  if (/^\d{1,16}$/.test(text)) {
    const ms = Number(text);
    return ms <= MAX_TIME ? ms : null;
  }
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_TIME ? ms : null;
}

const timeError = (issue: { input?: unknown }) =>
  issue.input === undefined || issue.input === ''
    ? `is required (${TIME_FORMS})`
    : `${JSON.stringify(issue.input)} is not ${TIME_FORMS}`;

function toEpochMs(value: string | number, context: z.RefinementCtx): number {
  const ms = epochMsOf(String(value));
  if (ms === null) context.addIssue({ code: 'custom', message: timeError({ input: value }), input: value });
  return ms ?? z.NEVER;
}

/** A time, as epoch milliseconds; `given` is how the request gives it. */
const time = (given: z.ZodType<string | number>, description: string) =>
  given
    .transform(toEpochMs)
    .meta({ description: `${description} Epoch milliseconds or ISO 8601 with a zone.` });

/** A time in a query parameter: text. */
export const timeQuery = (description: string) => time(z.string({ error: timeError }), description);

/** A time in a body field: an integer or text. */
const timeField = (description: string) =>
  time(z.union([z.int().min(0), z.string()], { error: timeError }), description);

/** One of the API's views by name, in a path or a body. */
export function viewNameSchema(viewNames: readonly string[]) {
  return z.enum(viewNames, {
    error: (issue) =>
      issue.input === undefined
        ? 'is required: a view name'
        : `no view named ${JSON.stringify(issue.input)}; views: ${viewNames.join(', ')}`,
  });
}

export type ViewNameSchema = ReturnType<typeof viewNameSchema>;

/** A body object of exactly these fields: a 400 names a field it does not know, or the body itself. */
function bodyObject<Shape extends z.ZodRawShape>(shape: Shape) {
  const fields = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown field; the fields are ${fields}`
        : `an object with the fields ${fields}`,
  });
}

/**
 * An event as JSON Schema, from the catalog's rules: the bounds `POST /events` holds events to. JSON
 * Schema's `maxLength` counts code points, as the catalog does.
 */
export function eventJsonSchema(catalog: EventCatalog): Record<string, unknown> {
  const properties = Object.fromEntries(
    Object.entries(catalog.rules).map(([name, rule]) => {
      const type = rule.required ? undefined : 'null';
      const schema =
        rule.type === 'integer'
          ? { type: type ? ['integer', type] : 'integer', minimum: rule.min, maximum: rule.max }
          : {
              type: type ? ['string', type] : 'string',
              ...(rule.oneOf === null
                ? { maxLength: rule.maxLength }
                : { enum: [...rule.oneOf, ...(type ? [null] : [])] }),
              ...(rule.nonEmpty ? { minLength: 1 } : {}),
            };
      return [name, schema];
    }),
  );
  const required = Object.entries(catalog.rules).flatMap(([name, rule]) => (rule.required ? [name] : []));
  return {
    type: 'object',
    properties,
    required,
    description:
      'Strings are well-formed Unicode (no lone surrogates); lengths count characters (code points). ' +
      `Times are epoch milliseconds from ${new Date(catalog.timeRange.from).toISOString()} to before ${new Date(catalog.timeRange.to).toISOString()}.`,
  };
}

/**
 * A typed event as JSON Schema: one of the catalogs' events, each with its `type`, the catalog's name.
 */
export function typedEventJsonSchema(catalogs: EventCatalogs): Record<string, unknown> {
  return {
    oneOf: catalogs.all.map((catalog) => {
      const schema = eventJsonSchema(catalog);
      return {
        ...schema,
        title: catalog.name,
        properties: {
          [EVENT_TYPE_FIELD]: { const: catalog.name, description: 'The catalog the event belongs to.' },
          ...(schema.properties as object),
        },
        required: [EVENT_TYPE_FIELD, ...(schema.required as string[])],
      };
    }),
    description:
      `An event names its catalog in \`${EVENT_TYPE_FIELD}\` (one of ${catalogs.names.join(', ')}) and is held ` +
      'to that catalog: a missing or unknown type is an error at its index.',
  };
}

/**
 * `POST /events`: one event, or an array of 1 to MAX_EVENTS_PER_REQUEST, of any catalogs mixed. Only this
 * envelope is validated here; each event is held to the catalog its `type` names apart, so a bad event
 * refuses itself alone (an error at its index) and its siblings are still put. The events are documented
 * with the catalogs' schemas.
 */
function eventsBody(catalogs: EventCatalogs | undefined) {
  const envelope = `one event or an array of 1 to ${MAX_EVENTS_PER_REQUEST} events`;
  const event = () => z.unknown().meta(catalogs === undefined ? {} : typedEventJsonSchema(catalogs));
  return z.union(
    [
      z.array(event()).min(1, { error: envelope }).max(MAX_EVENTS_PER_REQUEST, { error: envelope }),
      event().refine((body) => body !== undefined && !Array.isArray(body), { error: envelope }),
    ],
    { error: envelope },
  );
}

/** Every request body schema, by name, for the API's views and catalog. */
export function requestSchemas(api: ApiSurface) {
  const viewName = viewNameSchema(api.viewNames);
  return {
    Events: eventsBody(api.catalogs),
    /** A body may be left out: `{}`. */
    BatchRunStart: bodyObject({
      backfill: z
        .array(viewName)
        .optional()
        .meta({ description: 'Views to recompute from all their history (after a definition changed).' }),
    }).optional(),
    /** A body may be left out: the previous manifest, whatever the revision. */
    Rollback: bodyObject({
      to: z
        .string({ error: 'a batch version (run id)' })
        .regex(RUN_ID, { error: 'a batch version (run id): letters, digits, - and _' })
        .optional()
        .meta({ description: 'The batch version (run id) to return to. Default: the previous manifest.' }),
      expectedRevision: z
        .int({ error: 'a manifest revision: an integer from 1' })
        .min(1, { error: 'a manifest revision: an integer from 1' })
        .optional()
        .meta({ description: 'Refuse (409) unless the manifest is still at this revision.' }),
    }).optional(),
    ExportStart: bodyObject({
      view: viewName,
      from: timeField("Start (inclusive), aligned down to the view's bucket."),
      to: timeField("End (exclusive), aligned up to the view's bucket; at or before the watermark."),
      format: z.enum(EXPORT_FORMATS, { error: `one of ${EXPORT_FORMATS.join(', ')}` }).default('csv'),
    }),
  } as const;
}

export type RequestSchemas = ReturnType<typeof requestSchemas>;
export type RequestName = keyof RequestSchemas;
/** The body of a request of the named schema, as a client writes it. */
export type RequestOf<Name extends RequestName> = z.input<RequestSchemas[Name]>;
