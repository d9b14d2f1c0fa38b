import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // DuckDB and fast-check runs are CPU-bound; two workers match the two cores we have.
    maxWorkers: 2,
    testTimeout: 30_000,
  },
});
