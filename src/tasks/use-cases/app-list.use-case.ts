import { Inject, Injectable, Logger } from '@nestjs/common';

import { WorkerConfig } from '../../config/worker-config';
import type { AppListPage } from '../../steam/steam-request';
import { SteamRequestQueue } from '../../steam/steam-request.queue';
import type { TaskRun } from '../task.runner';
import { appListTaskError, missingApiKey } from './app-list.failures';

export interface AppListResult {
  appIds: number[];
  count: number;
}

/**
 * Pages through IStoreService/GetAppList (needs STEAM_API_KEY: Steam's keyless
 * list is gone), each page one Steam request through the queue.
 */
@Injectable()
export class AppListUseCase {
  private readonly logger = new Logger(AppListUseCase.name);

  constructor(
    private readonly steam: SteamRequestQueue,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
  ) {}

  async execute(run: TaskRun): Promise<AppListResult> {
    if (!this.config.steam.apiKey) throw missingApiKey('the app list');
    const appIds = new Set<number>();
    let cursor: number | undefined = 0;
    try {
      while (cursor !== undefined) {
        const page: AppListPage = await this.steam.request({ kind: 'applist', lastAppId: cursor }, run.signal);
        for (const appId of page.appIds) appIds.add(appId);
        // A cursor that does not move forward would page for ever.
        cursor = page.nextAppId !== undefined && page.nextAppId > cursor ? page.nextAppId : undefined;
      }
    } catch (error) {
      throw appListTaskError(error, run.signal, 'App list');
    }
    this.logger.log(`Task ${run.taskId}: ${appIds.size} app IDs`);
    const sorted = [...appIds].sort((a, b) => a - b);
    return { appIds: sorted, count: sorted.length };
  }
}
