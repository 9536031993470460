import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two cores: forks keep native better-sqlite3 handles isolated per file.
    pool: 'forks',
    reporters: ['default'],
  },
});
