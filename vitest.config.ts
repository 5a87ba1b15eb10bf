import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // forks: a crash or an fd leak in the native addon stays in one worker, not in the whole run.
    pool: 'forks',
    // Two files at a time on a 2-core machine: most of a test's time is spent waiting on subject
    // processes (spawn, listen, EOF), not computing, so one worker per spare core left CPU idle.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // `npm run coverage`: the project's own code as the tests run it in-process (v8, TypeScript lines
    // mapped correctly). Code the tests run through the built CLI in a child is not seen.
    coverage: {
      provider: 'v8',
      include: ['suite/**/*.ts', 'fixtures/**/*.ts', 'native/**/*.ts'],
      reporter: ['text-summary', 'text', 'html', 'json-summary'],
      reportsDirectory: 'coverage',
      reportOnFailure: true,
    },
  },
});
