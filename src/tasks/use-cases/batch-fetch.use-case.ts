import { Inject, Injectable, Logger } from '@nestjs/common';
import pMap from 'p-map';

import { BackendClient } from '../../backend/backend.client';
import { BackendError } from '../../backend/backend.errors';
import { WorkerConfig } from '../../config/worker-config';
import { SteamError } from '../../steam/steam.errors';
import { SteamRequestQueue } from '../../steam/steam-request.queue';
import { TaskFailedError } from '../task.errors';
import type { TaskRun } from '../task.runner';
import { BatchReport, BatchResult } from './batch.report';

export interface BatchRequest {
  appIds: readonly number[];
  countries: readonly string[];
}

interface Pair {
  appId: number;
  country: string;
}

/**
 * Fetches every (app, country) pair from Steam and pushes each to the backend
 * as soon as it arrives. A bounded window of pairs is in flight at once
 * (STEAM_FEED_WINDOW), so neither this process nor Redis ever holds the whole
 * batch as jobs; pushes overlap with the fetches still waiting for their slot.
 */
@Injectable()
export class BatchFetchUseCase {
  private readonly logger = new Logger(BatchFetchUseCase.name);

  constructor(
    private readonly steam: SteamRequestQueue,
    private readonly backend: BackendClient,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
  ) {}

  async execute(request: BatchRequest, run: TaskRun): Promise<BatchResult> {
    if (request.appIds.length > this.config.tasks.maxBatchApps) {
      throw new TaskFailedError('invalid_task', `appIds must have at most ${this.config.tasks.maxBatchApps} items`);
    }
    const appIds = [...new Set(request.appIds)];
    const countries = [...new Set(request.countries)];
    const report = new BatchReport(appIds);
    this.logger.log(`Task ${run.taskId}: ${appIds.length} app(s) × ${countries.length} countr(ies)`);
    await pMap(pairs(appIds, countries), (pair) => this.fetchAndPush(pair, report, run.signal), {
      concurrency: this.config.steam.feedWindow,
      signal: run.signal,
    });
    return report.result();
  }

  private async fetchAndPush({ appId, country }: Pair, report: BatchReport, signal: AbortSignal): Promise<void> {
    let details;
    try {
      details = await this.steam.request({ kind: 'appdetails', appId, country }, signal);
    } catch (error) {
      // Steam's own failures fail the pair; anything else (Redis gone, abort) fails the task.
      if (!(error instanceof SteamError) || signal.aborted) throw error;
      return report.fail(appId, country, 'steam_error');
    }
    try {
      await this.backend.push({ appId, country, ...details, fetchedAt: new Date().toISOString() }, signal);
    } catch (error) {
      if (!(error instanceof BackendError) || signal.aborted) throw error;
      report.fail(appId, country, error.reason);
    }
  }
}

function* pairs(appIds: readonly number[], countries: readonly string[]): Generator<Pair> {
  for (const appId of appIds) for (const country of countries) yield { appId, country };
}
