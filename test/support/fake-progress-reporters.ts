import { vi } from 'vitest';

import type { TaskRun } from '../../src/tasks/task.runner';
import type { FailureReason } from '../../src/tasks/use-cases/batch.report';

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
        pairFailed: (reason: FailureReason) => {
          reported.failed++;
          run.pairFailed(reason);
        },
      },
      stop: () => void reported.stopped++,
    })),
  };
  return { reported, reporters };
}
