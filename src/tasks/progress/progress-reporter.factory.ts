import { Inject, Injectable } from '@nestjs/common';

import { WorkerConfig } from '../../config/worker-config';
import { ResultPublisher } from '../../rabbit/result.publisher';
import type { TaskPattern } from '../task-patterns';
import type { TaskRun } from '../task.runner';
import { ProgressReporter } from './progress.reporter';

/**
 * Starts the {@link ProgressReporter} of a batch task, sending its
 * `task.progress` events to ORCHESTRATOR_QUEUE every TASK_PROGRESS_MS
 * (docs/contract.md#progress); with 0 it only counts.
 */
@Injectable()
export class ProgressReporterFactory {
  constructor(
    private readonly publisher: ResultPublisher,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
  ) {}

  /** `total` pairs in the batch, `doneBefore` of them accepted in earlier deliveries. */
  start(run: TaskRun, pattern: TaskPattern, total: number, doneBefore: number): ProgressReporter {
    return new ProgressReporter({
      run,
      pattern,
      total,
      doneBefore,
      intervalMs: this.config.tasks.progressMs,
      send: (progress) => this.publisher.publishUnconfirmed('task.progress', progress),
    });
  }
}
