import {
  BadRequestError,
  NotFoundError,
  RequestEntityTooLargeError,
} from '@aws-lambda-powertools/event-handler/http';
import { BUCKET_WIDTH_MS, type BucketWidth } from '../core';

/** A 400 whose JSON names the parameter (query parameter, path parameter or body field) at fault. */
export const badParameter = (parameter: string, message: string): BadRequestError =>
  new BadRequestError(`${parameter}: ${message}`, undefined, { parameter });

export const notFound = (parameter: string, message: string): NotFoundError =>
  new NotFoundError(message, undefined, { parameter });

/** Latest time accepted: JavaScript's Date range. */
const MAX_TIME = 8_640_000_000_000_000;

/** Epoch milliseconds, or an ISO 8601 date-time (a time zone is required, so no local-time guesses). */
export function parseTime(parameter: string, text: string | null): number {
  if (text === null || text === '') throw badParameter(parameter, 'is required (epoch ms or ISO 8601)');
  if (/^\d{1,16}$/.test(text)) {
    const ms = Number(text);
    if (ms <= MAX_TIME) return ms;
  } else if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms) && ms >= 0) return ms;
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
