import { catalogs } from '../../events';
import type { ApiDeps } from '../../functions/api/deps';
import { views } from '../../views';
import { quietLogger } from './fixture';

const HOUR = 3_600_000;

/**
 * The API's dependencies for a test: those given, the stack's catalogs and views and the usual
 * retention settings by default, and every other store a proxy that fails the test when read
 * (`reader` says who read it: "the router", "an export's GET").
 */
export function apiDeps(reader: string, given: Partial<ApiDeps>): ApiDeps {
  const unused = new Proxy(
    {},
    {
      get: (_target, name) => {
        throw new Error(`${reader} read ${String(name)}: this test should not reach it`);
      },
    },
  );
  return {
    catalogs,
    views,
    batchStore: unused,
    speedStore: unused,
    speedRetentionMs: 72 * HOUR,
    rollbackRetentionMs: 7 * 24 * HOUR,
    definitionSwitchMarginMs: 0,
    events: unused,
    batchRuns: unused,
    exportJobs: unused,
    exports: unused,
    quarantine: unused,
    logger: quietLogger(),
    now: Date.now,
    ...given,
  } as ApiDeps;
}
