import { Inject, Injectable, Logger } from '@nestjs/common';

import { BackendCircuit } from '../../backend/backend.circuit';
import { BackendClient } from '../../backend/backend.client';
import { BackendError } from '../../backend/backend.errors';
import { WorkerConfig } from '../../config/worker-config';
import { linkedSignal } from '../../common/linked-signal';
import { SteamError } from '../../steam/steam.errors';
import { SteamRequestQueue } from '../../steam/steam-request.queue';
import { ProgressReporterFactory } from '../progress/progress-reporter.factory';
import { BatchProgress, TaskProgressStore } from '../progress/task-progress.store';
import type { TaskRun } from '../task.runner';
import { BatchRequest, batchLists, feedBatch } from './batch.feed';
import { BatchReport, BatchResult } from './batch.report';

interface Pair {
  appId: number;
  country: string;
  /** Position in the task's progress bitmap. */
  index: number;
}

/**
 * Fetches every (app, country) pair from Steam and pushes each to the backend
 * as soon as it arrives. A bounded window of pairs is in flight at once
 * (STEAM_FEED_WINDOW), so neither this process nor Redis ever holds the whole
 * batch as jobs; pushes overlap with the fetches still waiting for their slot.
 * Pairs the backend accepted in an earlier delivery of the same task are
 * skipped (task progress in Redis), yet the result covers every app.
 */
@Injectable()
export class BatchFetchUseCase {
  private readonly logger = new Logger(BatchFetchUseCase.name);

  constructor(
    private readonly steam: SteamRequestQueue,
    private readonly backend: BackendClient,
    private readonly progressStore: TaskProgressStore,
    private readonly circuit: BackendCircuit,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
    private readonly reporters: ProgressReporterFactory,
  ) {}

  async execute(request: BatchRequest, run: TaskRun): Promise<BatchResult> {
    const { appIds, countries } = batchLists(request, this.config.tasks.maxBatchApps);
    const progress = run.resumable ? await this.progressStore.open(run.taskId, appIds, countries) : undefined;
    const resumed = progress?.acceptedBefore ?? 0;
    const reporter = this.reporters.start(run, 'apps.fetch', appIds.length * countries.length, resumed);
    const report = new BatchReport(appIds, reporter.run.pairFailed);
    this.logger.log(
      `Task ${run.taskId}: ${appIds.length} app(s) × ${countries.length} countr(ies)` +
        (resumed ? `, resuming with ${resumed} pair(s) already accepted` : ''),
    );
    const todo = function* (signal: AbortSignal) {
      for (const pair of pairs(appIds, countries)) {
        if (signal.aborted) return;
        if (!progress?.wasAccepted(pair.index)) yield pair;
      }
    };
    try {
      await feedBatch(todo, (pair, signal) => this.fetchAndPush(pair, report, progress, reporter.run, signal), {
        concurrency: this.config.steam.feedWindow,
        signal: run.signal,
      });
    } finally {
      // Before the result: no task.progress may follow it.
      reporter.stop();
    }
    return report.result();
  }

  private async fetchAndPush(
    { appId, country, index }: Pair,
    report: BatchReport,
    progress: BatchProgress | undefined,
    run: TaskRun,
    signal: AbortSignal,
  ): Promise<void> {
    let details;
    for (;;) {
      // While the backend cannot take what Steam would give, Steam is not asked.
      if (!(await this.circuit.whenFetchAllowed(signal))) return report.fail(appId, country, 'backend_error');
      const request = linkedSignal(signal, this.circuit.openSignal);
      try {
        details = await this.steam.request({ kind: 'appdetails', appId, country }, request.signal);
        break;
      } catch (error) {
        if (signal.aborted) throw error;
        // The circuit opened before this request left: it was withdrawn, not sent.
        if (request.signal.aborted) continue;
        // Steam's own failures fail the pair; anything else fails the task.
        if (!(error instanceof SteamError)) throw error;
        return report.fail(appId, country, 'steam_error');
      } finally {
        request.dispose();
      }
    }
    const record = { appId, country, ...details, fetchedAt: new Date().toISOString() };
    try {
      await this.backend.push(record, signal);
      this.circuit.recordSuccess();
    } catch (error) {
      if (!(error instanceof BackendError) || signal.aborted) throw error;
      this.circuit.recordFailure(error, record);
      return report.fail(appId, country, error.reason);
    }
    await progress?.markAccepted(index);
    run.progressed();
  }
}

function* pairs(appIds: readonly number[], countries: readonly string[]): Generator<Pair> {
  for (let a = 0; a < appIds.length; a++) {
    for (let c = 0; c < countries.length; c++) {
      yield { appId: appIds[a]!, country: countries[c]!, index: a * countries.length + c };
    }
  }
}
