import { Controller, Get, Res } from '@nestjs/common';
import { PrometheusController } from '@willsoto/nestjs-prometheus';

import { WorkerMetrics } from './worker.metrics';

/** What the handler needs of Express' response. */
interface HeaderSetter {
  header(name: string, value: string): unknown;
}

/**
 * GET /metrics (the path is PrometheusModule's): this app's registry in
 * Prometheus' text format, instead of the library's default, which serves
 * prom-client's global one.
 */
@Controller()
export class MetricsController extends PrometheusController {
  constructor(private readonly metrics: WorkerMetrics) {
    super();
  }

  @Get()
  override async index(@Res({ passthrough: true }) response: HeaderSetter): Promise<string> {
    response.header('Content-Type', this.metrics.registry.contentType);
    return this.metrics.registry.metrics();
  }
}
