import { expect } from 'vitest';
import type { apiClient } from './api-client';
import { waitFor } from './wait';

/**
 * Starts a batch run through the API (202) and waits until it has SUCCEEDED, failing the test at once if
 * it FAILED; resolves to the run's answer (`GET /batch-runs/{id}`).
 */
export async function batchRunThroughApi(
  call: ReturnType<typeof apiClient>,
  { timeoutMs = 30_000 }: { readonly timeoutMs?: number } = {},
) {
  const started = await call('POST', '/batch-runs', {});
  expect(started.status).toBe(202);
  return waitFor(
    async () => {
      const answer = await call('GET', `/batch-runs/${started.body.id}`);
      expect(answer.body.status).not.toBe('FAILED');
      return answer.body.status === 'SUCCEEDED' ? answer.body : undefined;
    },
    { timeoutMs, what: `batch run ${started.body.id}` },
  );
}
