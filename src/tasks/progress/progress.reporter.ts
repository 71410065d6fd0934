import { Logger } from '@nestjs/common';

import type { TaskRun } from '../task.runner';

/** The data of a `task.progress` event (docs/contract.md#progress). */
export interface TaskProgress {
  taskId: string;
  pattern: string;
  /** Pairs settled so far, pushed or failed, counting those accepted in earlier deliveries. */
  done: number;
  failed: number;
  total: number;
}

export interface ProgressReporterOptions {
  run: TaskRun;
  pattern: string;
  /** Pairs of the batch. */
  total: number;
  /** Pairs accepted in earlier deliveries of the task (resumed). */
  doneBefore: number;
  /** TASK_PROGRESS_MS; 0 = no events. */
  intervalMs: number;
  /** Sends one event at once or throws; never waits. */
  send: (progress: TaskProgress) => void;
}

/**
 * Counts the settled pairs of one batch task and sends `task.progress` at most
 * once per interval, only when something changed since the last event sent
 * (the first tick always sends, so a resumed task tells what it found). It is
 * informational: a send that fails is logged at debug and dropped, and never
 * reaches the task. After {@link stop}, which the use case calls before it
 * returns its result, nothing is sent: sends are synchronous, so none can be
 * under way while the result goes out.
 */
export class ProgressReporter {
  private readonly logger = new Logger(ProgressReporter.name);
  private done: number;
  private failures = 0;
  private sent?: { done: number; failed: number };
  private readonly timer?: NodeJS.Timeout;
  private stopped = false;
  /** The task's run, whose `progressed()` (a pair accepted) and `pairFailed()` count the pair here too. */
  readonly run: TaskRun;

  constructor(private readonly options: ProgressReporterOptions) {
    const { run, doneBefore, intervalMs } = options;
    this.done = doneBefore;
    this.run = {
      ...run,
      progressed: () => {
        this.done++;
        run.progressed();
      },
      pairFailed: (reason) => {
        this.done++;
        this.failures++;
        run.pairFailed(reason);
      },
    };
    if (intervalMs > 0) {
      this.timer = setInterval(() => this.tick(), intervalMs);
      // A ticker never keeps the process alive: the task does.
      this.timer.unref();
    }
  }

  /** No event after this, whatever the timer does. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private tick(): void {
    const { run, pattern, total, send } = this.options;
    // A delivery given up (channel lost, shutdown) says nothing more: its redelivery reports.
    if (this.stopped || run.signal.aborted) return;
    const { done, failures: failed } = this;
    if (this.sent && this.sent.done === done && this.sent.failed === failed) return;
    try {
      send({ taskId: run.taskId, pattern, done, failed, total });
      this.sent = { done, failed };
    } catch (error) {
      this.logger.debug(`task.progress of ${run.taskId} dropped: ${(error as Error)?.message ?? String(error)}`);
    }
  }
}
