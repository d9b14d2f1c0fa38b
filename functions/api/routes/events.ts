/** Ingest: events put on the stream, each held apart to the catalog its `type` names. */
import { ServiceUnavailableError } from '@aws-lambda-powertools/event-handler/http';
import { EVENT_TYPE_FIELD } from '../../core';
import { MAX_EVENTS_PER_REQUEST } from '../limits';
import type { RequestSchemas } from '../request-schemas';
import { answer, answerOneOf, json, route } from '../route';

/** A type, not an interface: the error's details take JSON, which an interface is not known to be. */
type EventError = { index: number; message: string; fields: { field: string; message: string }[] };

export const eventRoutes = (schemas: RequestSchemas) => [
  route({
    method: 'POST',
    path: '/events',
    summary: `Ingest one event or up to ${MAX_EVENTS_PER_REQUEST}, of any catalogs mixed`,
    description:
      `Each event names its catalog in \`${EVENT_TYPE_FIELD}\` and is held to it apart: a missing or unknown ` +
      `type, or a field its catalog refuses, is an error at the event's index; the others are put.`,
    body: schemas.Events,
    responses: {
      '202': answer('IngestResult', 'Some or all accepted.'),
      '400': answerOneOf(
        ['IngestResult', 'Error'],
        'None accepted (per-event errors), or a bad body (an error naming it).',
      ),
      '503': answer('Error', 'The stream refused every valid event.'),
    },
    handler:
      ({ deps }) =>
      async ({ body }) => {
        const errors: EventError[] = [];
        const valid: { index: number; partitionKey: string; data: string }[] = [];
        (Array.isArray(body) ? body : [body]).forEach((input, index) => {
          const found = deps.catalogs.catalogOf(input);
          if (!found.ok) {
            const { field, message } = found.error;
            errors.push({ index, message, fields: [{ field, message }] });
            return;
          }
          const { catalog } = found;
          const parsed = catalog.parse(input);
          if (parsed.ok)
            valid.push({
              index,
              partitionKey: String(parsed.event[catalog.idField]),
              // The type stays on the record: the speed layer and Firehose decode by it.
              data: JSON.stringify({ [EVENT_TYPE_FIELD]: catalog.name, ...parsed.event }),
            });
          else
            errors.push({
              index,
              message: `fails the ${catalog.name} schema: ${[...new Set(parsed.errors.map((e) => e.field))].join(', ')}`,
              fields: parsed.errors.map((e) => ({ field: e.field, message: e.message })),
            });
        });
        const notPut = valid.length === 0 ? new Map<number, string>() : await deps.events.put(valid);
        for (const [position, reason] of notPut) {
          const index = valid[position]?.index as number;
          errors.push({ index, message: `not put on the stream: ${reason}`, fields: [] });
        }
        errors.sort((a, b) => a.index - b.index);
        const accepted = valid.length - notPut.size;
        const result = { accepted, rejected: errors.length, errors };
        if (accepted === 0 && notPut.size > 0)
          throw new ServiceUnavailableError('the stream refused every event; retry later', undefined, result);
        return json(result, accepted > 0 ? 202 : 400);
      },
  }),
];
