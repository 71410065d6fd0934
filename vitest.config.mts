import { defineConfig } from 'vitest/config';

// Nest relies on legacy decorators and their design-time metadata for
// constructor injection; Oxc emits both when asked (Nest's own Vitest setup).
const oxc = { decorator: { legacy: true, emitDecoratorMetadata: true } };

export default defineConfig({
  oxc,
  test: {
    setupFiles: ['reflect-metadata'],
    pool: 'forks',
    projects: [
      {
        oxc,
        test: {
          // Stubs only: no broker, no Redis, no sockets. Seconds.
          name: 'unit',
          include: ['src/**/*.spec.ts', 'test/deploy/**/*.spec.ts'],
          setupFiles: ['reflect-metadata'],
        },
      },
      {
        oxc,
        test: {
          // One class against the real thing: the local Redis, HTTP stand-ins on 127.0.0.1.
          name: 'integration',
          include: ['src/**/*.int-spec.ts'],
          setupFiles: ['reflect-metadata'],
          testTimeout: 30_000,
        },
      },
      {
        oxc,
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e-spec.ts'],
          setupFiles: ['reflect-metadata'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // e2e files share one RabbitMQ and one Redis; each uses its own queue
          // names and REDIS_PREFIX, so they may run side by side.
          fileParallelism: true,
        },
      },
      {
        oxc,
        test: {
          // Suites that need tools beyond RabbitMQ and Redis (promtool, Chromium):
          // `npm run test:ops` installs them first (tools/ops/install-tools.sh).
          name: 'ops',
          include: ['test/ops/**/*.ops-spec.ts'],
          setupFiles: ['reflect-metadata'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        oxc,
        test: {
          name: 'faults',
          include: ['test/faults/**/*.fault-spec.ts'],
          setupFiles: ['reflect-metadata'],
          globalSetup: ['test/faults/support/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 60_000,
          // Drills kill processes and take the broker's connections away: one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
