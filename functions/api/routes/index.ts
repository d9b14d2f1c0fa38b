import { type ApiSurface, requestSchemas, viewNameSchema } from '../request-schemas';
import type { DeclaredRoute } from '../route';
import { batchRunRoutes } from './batch-runs';
import { eventRoutes } from './events';
import { exportRoutes } from './exports';
import { ledgerRoutes } from './ledger';
import { openApiRoute } from './openapi';
import { qualityRoutes } from './quality';
import { viewRoutes } from './views';

/** Every route of the API, in the OpenAPI document's order: the router's table and the document's paths. */
export function apiRoutes(api: ApiSurface): readonly DeclaredRoute[] {
  const schemas = requestSchemas(api);
  return [
    ...viewRoutes(viewNameSchema(api.viewNames)),
    ...ledgerRoutes(viewNameSchema(api.viewNames), schemas),
    ...eventRoutes(schemas),
    ...batchRunRoutes(schemas),
    ...exportRoutes(schemas),
    ...qualityRoutes,
    openApiRoute,
  ];
}
