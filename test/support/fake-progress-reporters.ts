import { vi } from 'vitest';

import type { TaskRun } from '../../src/tasks/task.runner';

/**
 * A stand-in for ProgressReporterFactory in the batch use cases' specs: counts
 * what a use case feeds its reporter (the reporter itself: progress.reporter.spec.ts).
 */
export function fakeProgressReporters() {
  const reported = { accepted: 0, failed: 0, stopped: 0 };
  const reporters = {
    start: vi.fn((run: TaskRun, _pattern: string, _total: number, _doneBefore: number) => ({
      run: {
        ...run,
        progressed: () => {
          reported.accepted++;
          run.progressed();
        },
      },
      failed: () => void reported.failed++,
      stop: () => void reported.stopped++,
    })),
  };
  return { reported, reporters };
}
