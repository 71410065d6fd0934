import { afterAll, beforeAll, expect } from 'vitest';

import { OutputCapture } from './output-capture';
import { StandIns, workerFixture, WorkerFixture, WorkerFixtureOptions } from './worker.harness';

export interface WorldHooks {
  /**
   * Started before anything else and restored after everything: it keeps what
   * this process wrote meanwhile, the in-process workers' logs included.
   */
  capture?: OutputCapture;
  /** Runs before the world starts (say, proxies its overrides name). */
  setUp?: () => unknown;
  /** Runs after the world stopped, whether or not stopping went well. */
  tearDown?: () => unknown;
}

/**
 * A {@link workerFixture} for the enclosing describe block, started in its
 * `beforeAll` and stopped in its `afterAll`: stand-ins, queues and a Redis
 * prefix of its own, in-process workers (one unless told), child processes
 * through `spawn`, every queue and Redis key removed at the end. Vitest only:
 * worker.harness.ts is also compiled for tools/.
 */
export function useWorld(
  label: string,
  overrides?: (standIns: StandIns) => Record<string, string>,
  options: WorkerFixtureOptions & WorldHooks = {},
): WorkerFixture {
  const world = workerFixture(label, overrides, options);
  beforeAll(async () => {
    options.capture?.start();
    await options.setUp?.();
    await world.start();
  });
  afterAll(async () => {
    try {
      await world.stop();
    } finally {
      try {
        await options.tearDown?.();
      } finally {
        options.capture?.restore();
      }
    }
  });
  return world;
}

/**
 * What a `task.failed` result looks like (docs/contract.md): the failed task's
 * taskId and pattern, an error code and some message, for `toEqual`.
 */
export function taskFailed(taskId: unknown, pattern: unknown, code = 'invalid_task') {
  return { pattern: 'task.failed', data: { taskId, pattern, error: { code, message: expect.any(String) } } };
}
