import { describe, expect, it } from 'vitest';

import type { ConsumerState } from '../rabbit/consumer.state';
import type { RabbitConnection } from '../rabbit/rabbit.connection';
import type { RedisClient } from '../redis/redis.module';
import type { EgressLimiter } from '../steam/egress/egress.limiter';
import type { EgressPool } from '../steam/egress/egress.pool';
import type { EgressStatus } from '../steam/egress/egress.status';
import type { SteamRequestQueue } from '../steam/steam-request.queue';
import { METRICS } from './metric.catalogue';
import { SCRAPE_REDIS_TIMEOUT_MS, ScrapeGauges } from './scrape.gauges';
import { WorkerMetrics } from './worker.metrics';

const direct = { id: 'direct', label: 'direct', isProxy: false };
const proxy = { id: 'p1', label: 'proxy-1', isProxy: true };

/** WorkerMetrics with the scrape-time gauges over stubs: Redis answers with `answers`, or never. */
function world(answers: { jobs?: Promise<unknown>; states?: Promise<EgressStatus[]> }, up = true) {
  const metrics = new WorkerMetrics();
  new ScrapeGauges(
    metrics,
    { jobCounts: () => answers.jobs } as unknown as SteamRequestQueue,
    { egresses: [direct, proxy] } as EgressPool,
    { states: () => answers.states } as unknown as EgressLimiter,
    { connected: up } as RabbitConnection,
    { connected: true } as RedisClient,
    { isUp: true } as ConsumerState,
  );
  const samples = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values;
  return { metrics, samples };
}

describe(ScrapeGauges.name, () => {
  it('reads Bull counts per budget (paused jobs as waiting) and one state per egress budget', async () => {
    const counts = { waiting: 2, paused: 3, active: 1, delayed: 4, failed: 0, completed: 9 };
    const states: EgressStatus[] = [
      { egress: direct, state: 'cooling', budgets: { store: { state: 'cooling' }, api: { state: 'ready' } } },
      { egress: proxy, state: 'failing', budgets: { store: { state: 'ready' }, api: { state: 'ready' } } },
    ];
    const { samples } = world({ jobs: Promise.resolve(counts), states: Promise.resolve(states) });

    const jobs = await samples(METRICS.steamJobs.name);
    expect(jobs).toContainEqual({ labels: { budget: 'store', state: 'waiting' }, value: 5 });
    expect(jobs).toContainEqual({ labels: { budget: 'api', state: 'completed' }, value: 9 });
    expect(jobs).toHaveLength(10);
    const egress = (await samples(METRICS.egressState.name)).filter((sample) => sample.value === 1);
    expect(egress.map((sample) => sample.labels)).toEqual([
      { egress: 'direct', budget: 'store', state: 'cooling' },
      { egress: 'direct', budget: 'api', state: 'ready' },
      { egress: 'proxy-1', budget: 'store', state: 'failing' },
      { egress: 'proxy-1', budget: 'api', state: 'failing' },
    ]);
  });

  it('answers a scrape without the Redis gauges when Redis does not answer in time, or fails', async () => {
    const { metrics } = world({ jobs: new Promise(() => undefined), states: Promise.reject(new Error('closed')) });
    const started = Date.now();

    const text = await metrics.registry.metrics();

    expect(Date.now() - started).toBeLessThan(SCRAPE_REDIS_TIMEOUT_MS + 500);
    expect(text).toContain(`# TYPE ${METRICS.steamJobs.name} gauge`);
    expect(text).not.toContain(`${METRICS.steamJobs.name}{`);
    expect(text).not.toContain(`${METRICS.egressState.name}{`);
    expect(text).toContain(`${METRICS.ready.name} 1`);
  });

  it('reports not ready while RabbitMQ is away', async () => {
    const { samples } = world({}, false);
    expect(await samples(METRICS.ready.name)).toEqual([{ labels: {}, value: 0 }]);
  });
});
