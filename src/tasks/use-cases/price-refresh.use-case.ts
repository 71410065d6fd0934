import { Inject, Injectable, Logger } from '@nestjs/common';

import { BackendCircuit } from '../../backend/backend.circuit';
import { BackendClient } from '../../backend/backend.client';
import { WorkerConfig } from '../../config/worker-config';
import { STORE_ITEMS_MAX_URL_LENGTH, storeItemsUrlMeter } from '../../steam/prices/store-items.query';
import { SteamRequestQueue } from '../../steam/steam-request.queue';
import { ChunkRefresher } from '../prices/chunk.refresher';
import { CountryCurrencies } from '../prices/country-currencies';
import { CountryCurrencyStore } from '../prices/country-currency.store';
import { ChunkApp, ChunkRule, chunksOf } from '../prices/price-chunks';
import { AppDetailsPrices, PriceSource, StoreBrowsePrices } from '../prices/price-sources';
import { ProgressReporterFactory } from '../progress/progress-reporter.factory';
import { BatchProgress, TaskProgressStore } from '../progress/task-progress.store';
import type { TaskRun } from '../task.runner';
import { BatchRequest, batchLists, feedBatch } from './batch.feed';
import { BatchReport, BatchResult } from './batch.report';

interface PriceChunk {
  country: string;
  apps: ChunkApp[];
}

/**
 * `apps.prices` (docs/contract.md#prices): the price of every (app, country)
 * pair, many apps per Steam request. Per country, the task's apps go to Steam
 * in chunks (STEAM_PRICE_BATCH, from STEAM_PRICE_SOURCE), a window of
 * STEAM_FEED_WINDOW chunks in flight, and each price is pushed as soon as its
 * chunk answers. Result, resume bitmap and crash-loop progress are those of
 * apps.fetch: pairs accepted in an earlier delivery are not asked again.
 */
@Injectable()
export class PriceRefreshUseCase {
  private readonly logger = new Logger(PriceRefreshUseCase.name);
  private readonly source: PriceSource;
  private readonly chunks: ChunkRefresher;

  constructor(
    steam: SteamRequestQueue,
    backend: BackendClient,
    circuit: BackendCircuit,
    currencies: CountryCurrencyStore,
    private readonly progressStore: TaskProgressStore,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
    private readonly reporters: ProgressReporterFactory,
  ) {
    this.source =
      config.steam.prices.source === 'storebrowse'
        ? new StoreBrowsePrices(steam, new CountryCurrencies(currencies, steam))
        : new AppDetailsPrices(steam);
    this.chunks = new ChunkRefresher(backend, circuit, config.steam.retry.maxAttempts);
  }

  async execute(request: BatchRequest, run: TaskRun): Promise<BatchResult> {
    const { appIds, countries } = batchLists(request, this.config.tasks.maxBatchApps);
    const progress = run.resumable ? await this.progressStore.open(run.taskId, appIds, countries, 'prices') : undefined;
    const resumed = progress?.acceptedBefore ?? 0;
    // Every app in every country is a pair, however many share a Steam request.
    const reporter = this.reporters.start(run, 'apps.prices', appIds.length * countries.length, resumed);
    const report = new BatchReport(appIds, reporter.run.pairFailed);
    this.logger.log(
      `Task ${run.taskId}: prices of ${appIds.length} app(s) × ${countries.length} countr(ies) from ${this.source.name}` +
        (resumed ? `, resuming with ${resumed} pair(s) already accepted` : ''),
    );
    try {
      await feedBatch(
        (signal) => this.chunksOf(appIds, countries, progress, signal),
        ({ apps, country }, signal) =>
          this.chunks.refresh(apps, country, { source: this.source, report, progress, run: reporter.run, signal }),
        // The feed window counts chunks here, each one Steam request at a time.
        { concurrency: this.config.steam.feedWindow, signal: run.signal },
      );
    } finally {
      // Before the result: no task.progress may follow it.
      reporter.stop();
    }
    return report.result();
  }

  /** Per country, the apps not accepted before, in chunks; read lazily as the window frees. */
  private *chunksOf(
    appIds: readonly number[],
    countries: readonly string[],
    progress: BatchProgress | undefined,
    signal: AbortSignal,
  ): Generator<PriceChunk> {
    for (let c = 0; c < countries.length; c++) {
      const country = countries[c]!;
      const pending = (function* () {
        for (let a = 0; a < appIds.length; a++) {
          const index = a * countries.length + c;
          if (!progress?.wasAccepted(index)) yield { appId: appIds[a]!, index };
        }
      })();
      for (const apps of chunksOf(pending, this.chunkRule(country))) {
        if (signal.aborted) return;
        yield { country, apps };
      }
    }
  }

  /** STEAM_PRICE_BATCH apps a chunk; for GetItems, whose ids travel in the URL, the URL's bound too. */
  private chunkRule(country: string): ChunkRule {
    const { prices, apiUrl, language } = this.config.steam;
    if (prices.source !== 'storebrowse') return { maxApps: prices.batch };
    const meter = storeItemsUrlMeter(apiUrl, country, language);
    // The meter counts one character more than the URL has: a chunk counted at 8,000 stays under it.
    return { maxApps: prices.batch, url: { ...meter, maxLength: STORE_ITEMS_MAX_URL_LENGTH } };
  }
}
