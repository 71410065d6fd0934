import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';

import { WorkerConfig } from '../config/worker-config';
import { RedisClient } from '../redis/redis.module';
import { EgressLimiter } from '../steam/egress/egress.limiter';
import { EgressPool } from '../steam/egress/egress.pool';
import { STEAM_BUDGETS } from '../steam/steam-budget';
import { ConsumerState } from '../rabbit/consumer.state';
import { RabbitConnection } from '../rabbit/rabbit.connection';

/** A ping slower than this counts as Redis being away. */
const REDIS_PING_TIMEOUT_MS = 2000;

/**
 * What the probes look at: the broker connection, Redis, and whether this
 * process consumes WORKER_QUEUE. For liveness, only a consumer lost while the
 * connection is up (what a restart mends) is `down`; outages are `degraded`.
 */
@Injectable()
export class DependenciesIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly rabbit: RabbitConnection,
    private readonly redis: RedisClient,
    private readonly consumer: ConsumerState,
    private readonly pool: EgressPool,
    private readonly limiter: EgressLimiter,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
  ) {}

  rabbitmq(forLiveness: boolean): HealthIndicatorResult {
    const check = this.health.check('rabbitmq');
    if (this.rabbit.connected) return check.up();
    return forLiveness ? check.degraded({ message: 'disconnected' }) : check.down({ message: 'disconnected' });
  }

  async redisPing(forLiveness: boolean): Promise<HealthIndicatorResult> {
    const check = this.health.check('redis');
    if (await this.redis.ping(REDIS_PING_TIMEOUT_MS)) return check.up();
    return forLiveness ? check.degraded({ message: 'unreachable' }) : check.down({ message: 'unreachable' });
  }

  /**
   * Each egress' state and its budgets', as details of liveness: `up` whatever
   * its state, since a cooling or failing egress is the pool doing its job,
   * not a stuck process.
   */
  async egresses(): Promise<HealthIndicatorResult> {
    const states = await Promise.race([
      this.limiter.states(this.pool.egresses),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), REDIS_PING_TIMEOUT_MS).unref()),
    ]).catch(() => undefined);
    const results = this.pool.egresses.map((egress, i) => {
      const entry = states?.[i];
      const details = entry
        ? {
            ...stateDetails(entry),
            ...Object.fromEntries(STEAM_BUDGETS.map((budget) => [budget, stateDetails(entry.budgets[budget])])),
          }
        : { state: 'unknown' };
      return this.health.check(`egress:${egress.label}`).up(details);
    });
    return Object.assign({}, ...results) as HealthIndicatorResult;
  }

  /** Readiness: is there a consumer right now? */
  consumerUp(): HealthIndicatorResult {
    const check = this.health.check('consumer');
    return this.consumer.isUp ? check.up() : check.down({ message: 'not consuming' });
  }

  /** Liveness: has the broker left us without a consumer for longer than the grace period? */
  consumerAlive(): HealthIndicatorResult {
    const check = this.health.check('consumer');
    const downForMs = this.consumer.downForMs();
    if (downForMs === 0) return check.up();
    if (this.rabbit.connected && downForMs > this.config.health.consumerGraceMs) {
      return check.down({ message: `no consumer for ${Math.round(downForMs / 1000)} s while connected` });
    }
    return check.degraded({ message: 'not consuming' });
  }
}

/** `{state, until?}` of an egress or a budget, the time as ISO 8601. */
function stateDetails({ state, until }: { state: string; until?: Date }): { state: string; until?: string } {
  return until ? { state, until: until.toISOString() } : { state };
}
