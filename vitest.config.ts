import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // forks: a crash or an fd leak in the native addon stays in one worker (toolchain.md).
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
