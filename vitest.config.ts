import { defineConfig } from 'vitest/config';

/** The test levels, one folder each under test/: `npm run test:<level>` runs one, `npm test` all. */
const LEVELS = ['unit', 'integration', 'infra', 'e2e', 'browser'] as const;

export default defineConfig({
  test: {
    // DuckDB and fast-check runs are CPU-bound; two workers match the two cores we have. The projects
    // inherit it and share one pool, so all levels together still run two files at a time.
    maxWorkers: 2,
    testTimeout: 30_000,
    // Handlers log and publish EMF metrics to stdout; tests that need them capture them explicitly.
    env: { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT' },
    projects: LEVELS.map((level) => ({
      extends: true,
      test: { name: level, include: [`test/${level}/**/*.test.ts`] },
    })),
  },
});
