import { App } from 'aws-cdk-lib';
import { describe, expect, it, vi } from 'vitest';
import { apiFunction } from '../../functions/api/context';
import { batchFunctions } from '../../functions/batch/context';
import { METRICS_NAMESPACE } from '../../functions/commons/metrics';
import type { Platform } from '../../functions/commons/platform';
import { speedFunction } from '../../functions/speed/config';
import { DriftlessStack } from '../../lib/stack';

// The demo's views plus one over a catalog `events.ts` does not define: what a user gets by defining a
// catalog and forgetting to add it to `catalogs`.
vi.mock('../../views', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../views')>();
  const { signupsPerDay } = await import('../support/events');
  return { ...original, views: [...original.views, signupsPerDay] };
});

const REFUSAL =
  "view signups_per_day: events: its catalog signup is not one of the stack's (order, page_view): " +
  'add it to catalogs in events.ts';

// The check comes before any service is reached: no platform is needed to see it.
const unreachable = new Proxy({} as Platform, {
  get: (_target, name) => {
    throw new Error(`platform.${String(name)} reached before the views were checked`);
  },
});

describe('a view over a catalog the stack does not define', () => {
  it('fails the synth, naming the view and the catalog', () => {
    expect(() => new DriftlessStack(new App(), 'Test')).toThrow(REFUSAL);
  });

  it.each([speedFunction, apiFunction, ...Object.values(batchFunctions)])(
    'fails to build the $name function, naming the view and the catalog',
    (definition) => {
      // Prepare: every variable set, so the environment passes and the build reaches the views.
      const env = {
        ...Object.fromEntries(Object.keys(definition.environment.shape).map((name) => [name, '1'])),
        POWERTOOLS_SERVICE_NAME: definition.service,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      };
      // Act
      const build = () => definition.create(env, unreachable);
      // Assess
      expect(build).toThrow(REFUSAL);
    },
  );
});
