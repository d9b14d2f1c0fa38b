import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // DuckDB and fast-check runs are CPU-bound; two workers match the two cores we have.
    maxWorkers: 2,
    testTimeout: 30_000,
    // Handlers log and publish EMF metrics to stdout; tests that need them capture them explicitly.
    env: { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT' },
  },
});
