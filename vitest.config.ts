import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests open real sockets; two cores: keep the pool small so timing-sensitive
    // tests are not starved.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
