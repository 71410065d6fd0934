import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

import type { RateBudget, WorkerConfig } from '../../src/config/worker-config';
import { RedisClient } from '../../src/redis/redis.module';
import type { Egress } from '../../src/steam/egress/egress';
import { EgressLimiter, Reservation, ReserveAnswer } from '../../src/steam/egress/egress.limiter';
import { SHARED_REDIS_URL } from './worker.harness';

export const PROXY: Egress = { id: 'proxy:127.0.0.1:3128', label: '127.0.0.1:3128', isProxy: true };
/** 10 per 1000 ms with a 20 ms margin: starts 102 ms apart. */
export const BUDGET: RateBudget = { limit: 10, windowMs: 1000, marginMs: 20 };

/** A limiter's settings; each budget defaults to {@link BUDGET}. */
export type LimiterSettings = Partial<Omit<WorkerConfig['steam'], 'budgets'>> & {
  store?: Partial<RateBudget>;
  api?: Partial<RateBudget>;
};

/** A budget or an egress that is not paused, as `states()` shows it. */
export const READY = { state: 'ready' };
export const BOTH_READY = { store: READY, api: READY };

/**
 * Egress limiters against the local Redis for the integration specs, each
 * under a prefix of its own; `close()` (in `afterAll`) deletes what they wrote.
 */
export function limiterFixture() {
  const clients: RedisClient[] = [];
  /** A client of the test's own, to look at and change what the limiters wrote. */
  const inspect = new Redis(SHARED_REDIS_URL);
  return {
    inspect,
    make({ store, api, ...steam }: LimiterSettings = {}): { limiter: EgressLimiter; redis: RedisClient } {
      const config = {
        redis: { url: SHARED_REDIS_URL, prefix: `test:limiter-${randomUUID().slice(0, 8)}`, taskStateTtlS: 60 },
        steam: {
          budgets: { store: { ...BUDGET, ...store }, api: { ...BUDGET, ...api } },
          timeoutMs: 1000,
          egressConcurrency: 1,
          cooldownMs: 500,
          ...steam,
        },
      } as WorkerConfig;
      const redis = new RedisClient(config);
      clients.push(redis);
      return { limiter: new EgressLimiter(config, redis), redis };
    },
    async close(): Promise<void> {
      for (const client of clients) {
        const keys = await inspect.keys(client.key('*'));
        if (keys.length > 0) await inspect.del(...keys);
        await client.onApplicationShutdown();
      }
      inspect.disconnect();
    },
  };
}

export function waitOf(answer: number | 'cancelled'): number {
  if (answer === 'cancelled') throw new Error('expected a wait, not a cancellation');
  return answer;
}

export function reserved(answer: ReserveAnswer): Reservation {
  if (!('reservation' in answer)) throw new Error(`expected a reservation, got a wait of ${answer.retryInMs} ms`);
  return answer.reservation;
}
