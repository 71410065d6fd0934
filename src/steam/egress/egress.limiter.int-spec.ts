import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

import type { WorkerConfig } from '../../config/worker-config';
import { RedisClient } from '../../redis/redis.module';
import { DIRECT_EGRESS, Egress } from './egress';
import { EgressLimiter, Reservation } from './egress.limiter';

const PROXY: Egress = { id: 'proxy:127.0.0.1:3128', label: '127.0.0.1:3128', isProxy: true };

/** Runs against the local Redis, under a prefix of its own. */
function limiterFor(steam: Partial<WorkerConfig['steam']>): { limiter: EgressLimiter; redis: RedisClient } {
  const config = {
    redis: { url: 'redis://127.0.0.1:6379', prefix: `test:limiter-${randomUUID().slice(0, 8)}`, taskStateTtlS: 60 },
    steam: {
      rateLimit: 10,
      rateWindowMs: 1000,
      rateMarginMs: 20,
      timeoutMs: 1000,
      egressConcurrency: 1,
      cooldownMs: 500,
      ...steam,
    },
  } as WorkerConfig;
  const redis = new RedisClient(config);
  return { limiter: new EgressLimiter(config, redis), redis };
}

function waitOf(answer: number | 'cancelled'): number {
  if (answer === 'cancelled') throw new Error('expected a wait, not a cancellation');
  return answer;
}

function reserved(answer: Awaited<ReturnType<EgressLimiter['reserve']>>): Reservation {
  if (!('reservation' in answer)) throw new Error(`expected a reservation, got a wait of ${answer.retryInMs} ms`);
  return answer.reservation;
}

/** A client of the test's own, to look at and change what the limiter wrote. */
const inspect = new Redis('redis://127.0.0.1:6379');

describe(EgressLimiter.name, () => {
  const clients: RedisClient[] = [];
  const make = (steam: Partial<WorkerConfig['steam']> = {}) => {
    const made = limiterFor(steam);
    clients.push(made.redis);
    return made.limiter;
  };

  afterAll(async () => {
    for (const client of clients) {
      const keys = await inspect.keys(client.key('*'));
      if (keys.length > 0) await inspect.del(...keys);
      await client.onApplicationShutdown();
    }
    inspect.disconnect();
  });

  it('spaces starts on one egress at least W/L apart', async () => {
    const limiter = make({ egressConcurrency: 10 });
    const starts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { startsInMs } = reserved(await limiter.reserve([DIRECT_EGRESS]));
      starts.push(performance.now() + startsInMs);
    }
    // (1000 + 20 ms margin) / 10; the local clock reads each answer a few ms late or early.
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(97);
    expect(limiter.spacingUs).toBe(102_000);
  });

  it('lets L requests leave in any W + margin, however late their reserved starts were', async () => {
    const limiter = make({ rateLimit: 3, rateWindowMs: 300, rateMarginMs: 30, egressConcurrency: 10 });
    const reservation = reserved(await limiter.reserve([DIRECT_EGRESS]));
    // A start due at once passes the gate within the reservation: the first of L.
    expect(reservation.departed).toBe(true);
    const waits: number[] = [];
    for (let i = 1; i < 4; i++)
      waits.push(waitOf(await limiter.depart({ ...reservation, leaseId: `departure-${i}` }, 'r')));
    expect(waits.slice(0, 2)).toEqual([0, 0]);
    // The fourth waits until the first is W + margin behind it.
    expect(waits[2]).toBeGreaterThan(300);
    expect(waits[2]).toBeLessThanOrEqual(330);
    await new Promise((resolve) => setTimeout(resolve, waits[2]!));
    expect(await limiter.depart({ ...reservation, leaseId: 'departure-late' }, 'r')).toBe(0);
  });

  it('lets a request that passes the gate again replace its own departure instead of adding one', async () => {
    const limiter = make({ rateLimit: 2, rateWindowMs: 5000, rateMarginMs: 30, egressConcurrency: 10 });
    const first = reserved(await limiter.reserve([DIRECT_EGRESS]));
    const second = { ...first, leaseId: 'second' };
    expect(await limiter.depart(second, 'r2')).toBe(0);
    // Both were recorded (L = 2); passing again does not count a third.
    expect(await limiter.depart(second, 'r2')).toBe(0);
    expect(await limiter.depart(first, 'r1')).toBe(0);
    expect(waitOf(await limiter.depart({ ...first, leaseId: 'third' }, 'r3'))).toBeGreaterThan(4000);
  });

  it('lets no reserved start leave while its egress cools down after a 429', async () => {
    const limiter = make({ egressConcurrency: 3, rateLimit: 100 });
    const reservations = [
      reserved(await limiter.reserve([DIRECT_EGRESS])),
      reserved(await limiter.reserve([DIRECT_EGRESS])),
    ];
    await limiter.coolDown(DIRECT_EGRESS, 2000);
    for (const reservation of reservations) {
      expect(waitOf(await limiter.depart({ ...reservation, departed: false }, reservation.leaseId))).toBeGreaterThan(
        1500,
      );
    }
  });

  it('never lets a cancelled request leave (the mark is in Redis, read by every process)', async () => {
    const limiter = make();
    const reservation = reserved(await limiter.reserve([DIRECT_EGRESS]));
    await limiter.cancel('job-7');
    expect(await limiter.depart(reservation, 'job-7')).toBe('cancelled');
    expect(await limiter.depart({ ...reservation, leaseId: 'another' }, 'job-8')).toBe(0);
  });

  it('holds no more than STEAM_EGRESS_CONCURRENCY leases on an egress, and frees one on release', async () => {
    const limiter = make();
    const first = reserved(await limiter.reserve([DIRECT_EGRESS]));
    const blocked = await limiter.reserve([DIRECT_EGRESS]);
    expect('retryInMs' in blocked).toBe(true);
    await limiter.release(first);
    expect('reservation' in (await limiter.reserve([DIRECT_EGRESS]))).toBe(true);
  });

  it('lets a lease that its holder stops renewing expire STEAM_TIMEOUT_MS + 5 s after it was taken', async () => {
    const { limiter, redis } = limiterFor({ timeoutMs: 1000 });
    clients.push(redis);
    const lease = reserved(await limiter.reserve([DIRECT_EGRESS]));
    const leasesKey = redis.key('egress', 'direct', 'leases');
    const expiresAtUs = Number(await inspect.zscore(leasesKey, lease.leaseId));
    expect(expiresAtUs / 1000 - Date.now()).toBeGreaterThan(5500);
    expect(expiresAtUs / 1000 - Date.now()).toBeLessThanOrEqual(6050);
    expect('retryInMs' in (await limiter.reserve([DIRECT_EGRESS]))).toBe(true);
    // Time passes and the holder is gone: the lease's expiry lies in the past.
    await inspect.zadd(leasesKey, String((Date.now() - 1) * 1000), lease.leaseId);
    expect('reservation' in (await limiter.reserve([DIRECT_EGRESS]))).toBe(true);
  });

  it('moves to the next egress while one is leased or cooling down', async () => {
    const limiter = make();
    const first = reserved(await limiter.reserve([DIRECT_EGRESS, PROXY]));
    const second = reserved(await limiter.reserve([DIRECT_EGRESS, PROXY]));
    expect([first.egress.id, second.egress.id].sort()).toEqual(['direct', 'proxy:127.0.0.1:3128']);
    await limiter.release(first);
    await limiter.release(second);
    await limiter.coolDown(DIRECT_EGRESS, 10_000);
    const third = reserved(await limiter.reserve([DIRECT_EGRESS, PROXY]));
    expect(third.egress.id).toBe('proxy:127.0.0.1:3128');
  });

  it('makes a request wait out the cooldown when every egress is cooling down', async () => {
    const limiter = make();
    const { until, before, after } = await limiter.coolDown(DIRECT_EGRESS, 800);
    expect([before, after]).toEqual(['ready', 'cooling']);
    expect(until.getTime()).toBeGreaterThan(Date.now() + 600);
    expect(await limiter.states([DIRECT_EGRESS])).toEqual([{ egress: DIRECT_EGRESS, state: 'cooling', until }]);
    const answer = await limiter.reserve([DIRECT_EGRESS]);
    expect('retryInMs' in answer && answer.retryInMs).toBeGreaterThan(600);
  });

  it('never shortens a cooldown that lasts longer', async () => {
    const limiter = make();
    const long = await limiter.coolDown(DIRECT_EGRESS, 5000);
    const short = await limiter.coolDown(DIRECT_EGRESS, 100);
    expect(short.until).toEqual(long.until);
    expect(short.before).toBe('cooling');
  });

  it("doubles a failing proxy's cooldown per consecutive failure, up to 10 times, until a success", async () => {
    const limiter = make({ cooldownMs: 50 });
    const pauses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const started = Date.now();
      const change = await limiter.markFailing(PROXY);
      pauses.push(Math.round((change.until.getTime() - started) / 50) * 50);
      expect(change.after).toBe('failing');
    }
    expect(pauses).toEqual([50, 100, 200, 400, 500, 500]);
    expect((await limiter.states([PROXY]))[0]!.state).toBe('failing');
    await new Promise((resolve) => setTimeout(resolve, 550));
    // Still failing once the pause is over: only a success makes it ready.
    expect((await limiter.states([PROXY]))[0]!.state).toBe('failing');
    expect(await limiter.markWorking(PROXY)).toBe(true);
    expect(await limiter.states([PROXY])).toEqual([{ egress: PROXY, state: 'ready' }]);
    expect(await limiter.markWorking(PROXY)).toBe(false);
    const started = Date.now();
    const fresh = await limiter.markFailing(PROXY);
    expect(fresh.until.getTime() - started).toBeLessThan(100);
  });

  it('reports an egress whose cooldown ran out as recovered, once', async () => {
    const limiter = make({ cooldownMs: 50 });
    await limiter.coolDown(DIRECT_EGRESS, 50);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const first = await limiter.reserve([DIRECT_EGRESS]);
    expect(first.recovered).toEqual([DIRECT_EGRESS]);
    if ('reservation' in first) await limiter.release(first.reservation);
    expect((await limiter.reserve([DIRECT_EGRESS])).recovered).toEqual([]);
  });

  it('renews a lease that is still held and reports one that expired', async () => {
    const limiter = make();
    const lease = reserved(await limiter.reserve([DIRECT_EGRESS]));
    expect(await limiter.renew(lease)).toBe(true);
    await limiter.release(lease);
    expect(await limiter.renew(lease)).toBe(false);
  });
});
