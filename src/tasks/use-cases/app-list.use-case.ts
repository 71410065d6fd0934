import { Inject, Injectable, Logger } from '@nestjs/common';

import { WorkerConfig } from '../../config/worker-config';
import { SteamError, SteamKeyRefusedError } from '../../steam/steam.errors';
import type { AppListPage } from '../../steam/steam-request';
import { SteamRequestQueue } from '../../steam/steam-request.queue';
import { TaskFailedError } from '../task.errors';
import type { TaskRun } from '../task.runner';

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
    if (!this.config.steam.apiKey) {
      throw new TaskFailedError('not_configured', 'STEAM_API_KEY is not set: the app list needs a Steam Web API key');
    }
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
      if (error instanceof SteamKeyRefusedError) {
        throw new TaskFailedError('not_configured', 'Steam refused STEAM_API_KEY (403)', { cause: error });
      }
      if (error instanceof SteamError && !run.signal.aborted) {
        throw new TaskFailedError('steam_error', `App list unavailable: ${error.message}`, { cause: error });
      }
      throw error;
    }
    this.logger.log(`Task ${run.taskId}: ${appIds.size} app IDs`);
    const sorted = [...appIds].sort((a, b) => a - b);
    return { appIds: sorted, count: sorted.length };
  }
}
