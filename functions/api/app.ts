/** The serving API: the route table on one router, over the adapters in `deps`. */
import { RouteMatchingError, Router } from '@aws-lambda-powertools/event-handler/http';
import { cors } from '@aws-lambda-powertools/event-handler/http/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { ApiDeps } from './deps';
import { openApiOf } from './openapi';
import { requestParser, undecodableParameter } from './params';
import { json, type RouteContext } from './route';
import { apiRoutes } from './routes';
import { ViewReader } from './view-reader';

/** The API as the Lambda runtime and the local server call it. */
export interface ServingApi {
  handle(event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult>;
}

/** A refusal made before any route runs, in the routes' error shape. */
const refusal = (parameter: string, message: string) => ({
  statusCode: 400,
  error: 'BadRequestError',
  message,
  details: { parameter },
});

/**
 * One router for every route. The Lambda handler and the local server both call `handle` with API
 * Gateway proxy events.
 */
export function createApi(deps: ApiDeps): ServingApi {
  const app = new Router({ logger: deps.logger });
  const routes = apiRoutes({ viewNames: deps.views.map((view) => view.name), catalogs: deps.catalogs });
  const context: RouteContext = {
    deps,
    reader: new ViewReader(deps.batchStore, deps.speedStore, deps.speedRetentionMs),
    openApi: openApiOf(routes),
  };
  // Path parameters the router cannot take (blank, or badly encoded) are the client's mistake.
  app.errorHandler(RouteMatchingError, async (error) => json(refusal('path', error.message), 400));
  // The router percent-decodes path parameters as it matches them: `%ZZ` or a cut-off UTF-8 sequence throws.
  const paths = routes.map((route) => route.path);
  app.errorHandler(URIError, async (_error, { req }) => {
    const parameter = undecodableParameter(new URL(req.url).pathname, paths);
    return json(refusal(parameter, `${parameter}: not percent-encoded UTF-8`), 400);
  });
  app.use(cors({ origin: '*', allowHeaders: ['Content-Type', 'Authorization', 'X-Api-Key', 'X-Amz-Date'] }));
  for (const route of routes) {
    const parse = requestParser(route);
    const handle = route.handler(context);
    app.route(async ({ params, req }) => handle(await parse(params, req)), {
      method: route.method,
      path: route.path,
    });
  }

  return {
    async handle(event, context) {
      try {
        return await app.resolve(event, context);
      } catch (error) {
        // The router turns the event into a URL before routing; a path no URL can hold ends here.
        deps.logger.warn('request refused before routing', { error, path: event.path });
        return {
          statusCode: 400,
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(refusal('path', `path: ${(error as Error).message}`)),
        };
      }
    },
  };
}
