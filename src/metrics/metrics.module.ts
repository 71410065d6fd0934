import { Global, Module } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';

import { RabbitModule } from '../rabbit/rabbit.module';
import { SteamModule } from '../steam/steam.module';
import { MetricsController } from './metrics.controller';
import { ScrapeGauges } from './scrape.gauges';
import { WorkerMetrics } from './worker.metrics';

/**
 * Prometheus metrics at GET /metrics (docs/operating/metrics.md). Global, like
 * Redis: the runner, the Steam processor and the backend client count into
 * {@link WorkerMetrics} without importing this module, which itself reads the
 * Steam and RabbitMQ state at scrape time. PrometheusModule routes the
 * endpoint; its default metrics stay off, since they would go to prom-client's
 * global registry, which several apps in one process (the tests) would share.
 */
@Global()
@Module({
  imports: [
    PrometheusModule.register({ controller: MetricsController, defaultMetrics: { enabled: false } }),
    SteamModule,
    RabbitModule,
  ],
  providers: [WorkerMetrics, ScrapeGauges],
  exports: [WorkerMetrics],
})
export class MetricsModule {}
