import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e tests spawn real processes; two workers fit the 2-core machine.
    maxWorkers: 2,
    // The JSON report feeds the plain "N passed, N failed" line .ci/run prints last.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
  },
});
