import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';

import { ConsumerState } from '../rabbit/consumer.state';
import { RabbitConnection } from '../rabbit/rabbit.connection';
import { RedisClient } from '../redis/redis.module';
import { EgressLimiter } from '../steam/egress/egress.limiter';
import { EgressPool } from '../steam/egress/egress.pool';
import type { EgressStatus } from '../steam/egress/egress.status';
import { STEAM_BUDGETS, SteamBudget } from '../steam/steam-budget';
import { SteamRequestQueue } from '../steam/steam-request.queue';
import { METRICS, MetricFamily } from './metric.catalogue';
import { WorkerMetrics } from './worker.metrics';

/**
 * A scrape waits at most this long for Redis (Bull's counts, the egress
 * states); past it, or on an error, those gauges are left out of this scrape,
 * so /metrics answers fast with the rest while Redis is away.
 */
export const SCRAPE_REDIS_TIMEOUT_MS = 1000;

const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
const EGRESS_STATES = ['ready', 'cooling', 'failing'] as const;

/**
 * The gauges read when Prometheus scrapes, from the state other parts keep:
 * Bull's job counts per Steam queue, each egress budget's state (what the
 * liveness details show), and readiness from the cached connection and
 * consumer states (what /health/ready checks, without its Redis ping).
 */
@Injectable()
export class ScrapeGauges {
  constructor(
    private readonly metrics: WorkerMetrics,
    private readonly steam: SteamRequestQueue,
    private readonly pool: EgressPool,
    private readonly limiter: EgressLimiter,
    private readonly rabbit: RabbitConnection,
    private readonly redis: RedisClient,
    private readonly consumer: ConsumerState,
  ) {
    metrics.knowEgresses(pool.egresses.map((egress) => egress.label));
    this.gauge(METRICS.steamJobs, (gauge) => this.collectJobs(gauge));
    this.gauge(METRICS.egressState, (gauge) => this.collectEgresses(gauge));
    this.gauge(METRICS.ready, (gauge) => {
      gauge.set(this.rabbit.connected && this.redis.connected && this.consumer.isUp ? 1 : 0);
    });
  }

  private async collectJobs(gauge: Gauge<string>): Promise<void> {
    const counts = await withinTimeout(Promise.all(STEAM_BUDGETS.map((budget) => this.steam.jobCounts(budget))));
    gauge.reset();
    counts?.forEach((count, i) => {
      const budget: SteamBudget = STEAM_BUDGETS[i]!;
      for (const state of JOB_STATES) {
        // A paused queue (shutdown) keeps its waiting jobs in Bull's `paused` list.
        const value = state === 'waiting' ? count.waiting + (count.paused ?? 0) : count[state];
        gauge.set({ budget, state }, value);
      }
    });
  }

  private async collectEgresses(gauge: Gauge<string>): Promise<void> {
    const statuses = await withinTimeout(this.limiter.states(this.pool.egresses));
    gauge.reset();
    for (const status of statuses ?? []) {
      for (const budget of STEAM_BUDGETS) {
        const current = budgetState(status, budget);
        for (const state of EGRESS_STATES) {
          gauge.set({ egress: status.egress.label, budget, state }, state === current ? 1 : 0);
        }
      }
    }
  }

  private gauge(family: MetricFamily, collect: (gauge: Gauge<string>) => void | Promise<void>): void {
    const gauge: Gauge<string> = new Gauge({
      name: family.name,
      help: family.help,
      labelNames: family.labels,
      registers: [this.metrics.registry],
      collect: () => collect(gauge),
    });
  }
}

/** A budget is `failing` while its whole egress fails (the proxy), else ready or cooling on its own. */
function budgetState(status: EgressStatus, budget: SteamBudget): (typeof EGRESS_STATES)[number] {
  return status.state === 'failing' ? 'failing' : status.budgets[budget].state;
}

/** `promise`'s value, or undefined when it fails or takes longer than a scrape may wait. */
async function withinTimeout<T>(promise: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>(
    (resolve) => (timer = setTimeout(() => resolve(undefined), SCRAPE_REDIS_TIMEOUT_MS)),
  );
  try {
    return await Promise.race([promise.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}
