import {
  BadRequestError,
  NotFoundError,
  RequestEntityTooLargeError,
} from '@aws-lambda-powertools/event-handler/http';
import { z } from 'zod';
import { MAX_BODY_BYTES } from './limits';
import type { DeclaredRequest, DeclaredRoute } from './route';

/** A 400 whose JSON names the parameter (query parameter, path parameter or body field) at fault. */
export const badParameter = (parameter: string, message: string): BadRequestError =>
  new BadRequestError(`${parameter}: ${message}`, undefined, { parameter });

export const notFound = (parameter: string, message: string): NotFoundError =>
  new NotFoundError(message, undefined, { parameter });

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

/** The field an issue is about: the unknown field it names, else the first key on its path, else the body. */
function fieldOf(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) return issue.keys[0];
  return typeof issue.path[0] === 'string' ? issue.path[0] : 'body';
}

/** The value, or the error `refuse` makes of the first issue the schema found. */
function parsed<T>(
  result: z.ZodSafeParseResult<T>,
  refuse: (parameter: string, message: string) => Error,
): T {
  if (result.success) return result.data;
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  throw refuse(fieldOf(issue), issue.message);
}

/**
 * Parses a route's requests with its schemas, in the order a client reads a URL: the path (a 404 naming
 * the parameter that names nothing), the query, then the body (a 400 naming the parameter or field). A
 * route that declares no query leaves the query unread.
 */
export function requestParser(route: DeclaredRoute) {
  const params = z.object(route.params ?? {});
  const declared = route.query ?? {};
  const query = z.object(declared);
  return async (pathParameters: Record<string, string>, req: Request): Promise<DeclaredRequest> => {
    const parsedParams = parsed(params.safeParse(pathParameters), notFound);
    const search = route.query === undefined ? new URLSearchParams() : queryOf(req);
    // The first value of each declared parameter; an empty one counts as not given.
    const given = Object.fromEntries(
      Object.keys(declared).map((name) => [name, search.get(name) || undefined]),
    );
    const parsedQuery = parsed(query.safeParse(given), badParameter);
    const others = [...search].filter(([name]) => !Object.hasOwn(declared, name));
    const body =
      route.body === undefined
        ? undefined
        : parsed(route.body.safeParse(await readJsonBody(req)), badParameter);
    return { params: parsedParams, query: parsedQuery, others, body, req };
  };
}
