import {
  BadRequestError,
  NotFoundError,
  RequestEntityTooLargeError,
} from '@aws-lambda-powertools/event-handler/http';
import { BUCKET_WIDTH_MS, type BucketWidth, MAX_DAY_TIME } from '../core';

/** A 400 whose JSON names the parameter (query parameter, path parameter or body field) at fault. */
export const badParameter = (parameter: string, message: string): BadRequestError =>
  new BadRequestError(`${parameter}: ${message}`, undefined, { parameter });

export const notFound = (parameter: string, message: string): NotFoundError =>
  new NotFoundError(message, undefined, { parameter });

/** Latest time accepted: the last millisecond that has a day (readers name days with `dayOf`). */
const MAX_TIME = MAX_DAY_TIME - 1;

/** Epoch milliseconds, or an ISO 8601 date-time (a time zone is required, so no local-time guesses). */
export function parseTime(parameter: string, text: string | null): number {
  if (text === null || text === '') throw badParameter(parameter, 'is required (epoch ms or ISO 8601)');
  if (/^\d{1,16}$/.test(text)) {
    const ms = Number(text);
    if (ms <= MAX_TIME) return ms;
  } else if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms) && ms >= 0 && ms <= MAX_TIME) return ms;
  }
  throw badParameter(parameter, `${JSON.stringify(text)} is not epoch milliseconds or an ISO 8601 time`);
}

export const STEPS = Object.keys(BUCKET_WIDTH_MS) as BucketWidth[];

export function parseStep(text: string | null, fallback: BucketWidth): BucketWidth {
  if (text === null || text === '') return fallback;
  if ((STEPS as string[]).includes(text)) return text as BucketWidth;
  throw badParameter('step', `${JSON.stringify(text)} is not one of ${STEPS.join(', ')}`);
}

export function parseLimit(text: string | null, fallback: number, max: number): number {
  if (text === null || text === '') return fallback;
  const limit = /^\d{1,4}$/.test(text) ? Number(text) : Number.NaN;
  if (limit >= 1 && limit <= max) return limit;
  throw badParameter('limit', `${JSON.stringify(text)} is not an integer from 1 to ${max}`);
}

export function parseBoolean(parameter: string, text: string | null): boolean {
  if (text === null || text === '' || text === 'false') return false;
  if (text === 'true') return true;
  throw badParameter(parameter, `${JSON.stringify(text)} is not true or false`);
}

/** Request bodies above this are refused before parsing. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** The body as JSON; an empty body is `undefined`. */
export async function readJsonBody(request: Request): Promise<unknown> {
  const text = await request.text();
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES)
    throw new RequestEntityTooLargeError(`body: larger than ${MAX_BODY_BYTES} bytes`, undefined, {
      parameter: 'body',
    });
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badParameter('body', `not JSON: ${(error as Error).message}`);
  }
}

/**
 * What a malformed percent-encoding or UTF-8 sequence in a query string decodes to: URLSearchParams (the
 * local API Gateway's, and the router's Request URL) decodes it to U+FFFD rather than fail, and turns a
 * lone surrogate into it too.
 */
const UNDECODABLE = '\uFFFD';

/** The query parameters, each name and value decoded to well-formed text; else a 400 naming the parameter. */
export function queryOf(request: Request): URLSearchParams {
  const query = new URL(request.url).searchParams;
  for (const [name, value] of query) {
    if (name.includes(UNDECODABLE))
      throw badParameter(name, 'the parameter name is not percent-encoded UTF-8');
    if (value.includes(UNDECODABLE)) throw badParameter(name, 'the value is not percent-encoded UTF-8');
  }
  return query;
}

/**
 * The path parameter of a route template (`/views/:name/series`) whose segment in `path` does not
 * percent-decode (`%ZZ`, a cut-off UTF-8 sequence), or `path` when no template takes the path.
 */
export function undecodableParameter(path: string, templates: readonly string[]): string {
  const segments = path.split('/');
  for (const template of templates) {
    const parts = template.split('/');
    if (parts.length !== segments.length) continue;
    if (parts.some((part, index) => !part.startsWith(':') && part !== segments[index])) continue;
    for (const [index, part] of parts.entries()) {
      if (!part.startsWith(':')) continue;
      try {
        decodeURIComponent(segments[index] as string);
      } catch {
        return part.slice(1);
      }
    }
  }
  return 'path';
}
