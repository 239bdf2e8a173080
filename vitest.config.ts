import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    // Files run in parallel, each in its own database cloned from a migrated template.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    // expect.poll's default (1 s) is too short for a browser on a loaded 2-core box; a poll still fails
    // on a real regression, only later.
    expect: { poll: { timeout: 10_000 } },
  },
});
