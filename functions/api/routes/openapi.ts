import { json, route } from '../route';

/** The OpenAPI document of every route, this one included. */
export const openApiRoute = route({
  method: 'GET',
  path: '/openapi.json',
  summary: 'This document',
  responses: { '200': { description: 'OpenAPI 3.1' } },
  handler:
    ({ openApi }) =>
    async () =>
      json(openApi),
});
