import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';

import { DependenciesIndicator } from './dependencies.indicator';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly dependencies: DependenciesIndicator,
  ) {}

  /** Liveness: 503 only when a restart would help (docs/contract.md#http-endpoints). */
  @Get()
  @HealthCheck()
  liveness() {
    return this.health.check([
      () => this.dependencies.consumerAlive(),
      () => this.dependencies.rabbitmq(true),
      () => this.dependencies.redisPing(true),
      () => this.dependencies.egresses(),
    ]);
  }

  /** Readiness: RabbitMQ and Redis answer and this process consumes. */
  @Get('ready')
  @HealthCheck()
  readiness() {
    return this.health.check([
      () => this.dependencies.rabbitmq(false),
      () => this.dependencies.redisPing(false),
      () => this.dependencies.consumerUp(),
    ]);
  }
}
