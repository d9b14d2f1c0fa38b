/**
 * A route declared once: its method and path (the router's table), its path, query and body schemas
 * (validation, and the OpenAPI parameters and request body) and its answers (the OpenAPI responses).
 */
import type { z } from 'zod';
import type { ViewDefinition } from '../core';
import type { ApiDeps } from './deps';
import type { ResponseName } from './schemas';
import type { ViewReader } from './view-reader';

type Fields = Readonly<Record<string, z.ZodType>>;
type Parsed<F extends Fields> = { readonly [Name in keyof F]: z.output<F[Name]> };
type NoFields = Readonly<Record<never, z.ZodType>>;

/** What a handler is given: the path, query and body as the route's schemas parsed them. */
export interface RouteRequest<P extends Fields, Q extends Fields, B extends z.ZodType> {
  readonly params: Parsed<P>;
  readonly query: Parsed<Q>;
  /** Query parameters the route does not declare, as sent: a view's group filters, where a route takes them. */
  readonly others: readonly (readonly [name: string, value: string])[];
  readonly body: z.output<B>;
  readonly req: Request;
}

/** What handlers work with, made once per API. */
export interface RouteContext {
  readonly deps: ApiDeps;
  readonly reader: ViewReader;
  /** The OpenAPI document of every route. */
  readonly openApi: object;
}

/** A JSON Response, or a proxy result whose binary body the router passes on untouched. */
export type Answer =
  | Response
  | { readonly statusCode: number; readonly headers: Record<string, string>; readonly body: ArrayBuffer };

/** An OpenAPI response object. */
export interface ResponseDoc {
  readonly description: string;
  readonly content?: object;
}

export interface Route<P extends Fields, Q extends Fields, B extends z.ZodType> {
  readonly method: 'GET' | 'POST';
  /** The router's path: a `:name` segment is a path parameter. */
  readonly path: `/${string}`;
  readonly summary: string;
  readonly description?: string;
  /** Path parameters: one its schema refuses names nothing, a 404 naming it. */
  readonly params?: P;
  /** Query parameters: one its schema refuses is a 400 naming it. An empty value counts as not given. */
  readonly query?: Q;
  /** The JSON body: a field its schema refuses is a 400 naming it. */
  readonly body?: B;
  readonly responses: Readonly<Record<string, ResponseDoc>>;
  /** Called once per API; the handler it answers is called per request. */
  readonly handler: (context: RouteContext) => (request: RouteRequest<P, Q, B>) => Promise<Answer>;
}

/** A route as the router and the OpenAPI document take it, whatever its schemas. */
export type DeclaredRoute = Route<Fields, Fields, z.ZodType>;
export type DeclaredRequest = RouteRequest<Fields, Fields, z.ZodType>;

/** Declares a route: its handler is typed by its schemas. */
export function route<
  P extends Fields = NoFields,
  Q extends Fields = NoFields,
  B extends z.ZodType = z.ZodUndefined,
>(declaration: Route<P, Q, B>): DeclaredRoute {
  // The router parses every request with this declaration's own schemas: what the handler is given is
  // what it was typed with.
  return declaration as unknown as DeclaredRoute;
}

const schemaOf = (name: ResponseName) => ({ $ref: `#/components/schemas/${name}` });

/** An answer of the named response schema. */
export const answer = (name: ResponseName, description = 'OK'): ResponseDoc => ({
  description,
  content: { 'application/json': { schema: schemaOf(name) } },
});

/** An answer that is one of several response schemas. */
export const answerOneOf = (names: readonly ResponseName[], description: string): ResponseDoc => ({
  description,
  content: { 'application/json': { schema: { oneOf: names.map(schemaOf) } } },
});

/** A JSON answer. (Handlers answer Responses: Powertools' JSON types do not admit interfaces.) */
export const json = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

/** The view of a name the route's view-name schema has taken. */
export function viewNamed(deps: ApiDeps, name: string): ViewDefinition {
  const view = deps.views.find((candidate) => candidate.name === name);
  if (view === undefined) throw new Error(`no view named ${name}, though its schema took it`);
  return view;
}
