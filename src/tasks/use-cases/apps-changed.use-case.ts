import { Inject, Injectable, Logger } from '@nestjs/common';

import { WorkerConfig } from '../../config/worker-config';
import type { AppChangesPage, ChangedApp } from '../../steam/steam-request';
import { SteamRequestQueue } from '../../steam/steam-request.queue';
import { ChangeWatermarkStore } from '../changes/change-watermark.store';
import { nowSeconds, sinceWithout, untilOf, watermarkAfter } from '../changes/change-window';
import type { AppsChangedDto } from '../dto/task.dto';
import type { TaskRun } from '../task.runner';
import { appListTaskError, missingApiKey } from './app-list.failures';

/** `apps.changed.done` without its taskId (docs/contract.md#results). */
export interface AppsChangedResult {
  since: number;
  until: number;
  apps: ChangedApp[];
  count: number;
}

/**
 * Lists the store apps modified since a time (docs/contract.md#change-detection):
 * GetAppList with `if_modified_since`, paged like the app list, each page one
 * Steam request through the queue. Without `since` it continues from the
 * watermark, which only a completed task raises ({@link completed}), so that
 * a run whose result never reached the orchestrator is never skipped over.
 */
@Injectable()
export class AppsChangedUseCase {
  private readonly logger = new Logger(AppsChangedUseCase.name);

  constructor(
    private readonly steam: SteamRequestQueue,
    private readonly watermark: ChangeWatermarkStore,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
  ) {}

  async execute(dto: AppsChangedDto, run: TaskRun): Promise<AppsChangedResult> {
    if (!this.config.steam.apiKey) throw missingApiKey('apps.changed');
    // Redis away: the read throws and the runner gives the task back, rather
    // than guess a start that could skip changes.
    const since = dto.since ?? sinceWithout(await this.watermark.current(), nowSeconds());
    const changed = new Map<number, ChangedApp>();
    let cursor: number | undefined = 0;
    try {
      while (cursor !== undefined) {
        const request = { kind: 'appchanges', lastAppId: cursor, ifModifiedSince: since } as const;
        const page: AppChangesPage = await this.steam.request(request, run.signal);
        for (const app of page.apps) keepLatest(changed, app);
        // A cursor that does not move forward would page for ever.
        cursor = page.nextAppId !== undefined && page.nextAppId > cursor ? page.nextAppId : undefined;
      }
    } catch (error) {
      throw appListTaskError(error, run.signal, 'Changed apps');
    }
    const apps = [...changed.values()].sort((a, b) => a.appId - b.appId);
    const until = untilOf(since, apps);
    this.logger.log(`Task ${run.taskId}: ${apps.length} app(s) changed from ${since} until ${until}`);
    return { since, until, apps, count: apps.length };
  }

  /** Once the result is confirmed by the broker: the task completed, so the watermark may move on. */
  async completed(result: AppsChangedResult): Promise<void> {
    await this.watermark.offer(watermarkAfter(result.until, nowSeconds()));
  }
}

/** An app listed twice (it changed while the pages were read) counts once, at its latest change. */
function keepLatest(changed: Map<number, ChangedApp>, app: ChangedApp): void {
  const known = changed.get(app.appId);
  const later =
    !known ||
    app.lastModified > known.lastModified ||
    (app.lastModified === known.lastModified && app.priceChangeNumber > known.priceChangeNumber);
  if (later) changed.set(app.appId, app);
}
