import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

import type { RateBudget, WorkerConfig } from '../../config/worker-config';
import { RedisClient } from '../../redis/redis.module';
import { DIRECT_EGRESS, Egress } from './egress';
import type { SteamBudget } from '../steam-budget';
import { EgressLimiter, Reservation } from './egress.limiter';

const PROXY: Egress = { id: 'proxy:127.0.0.1:3128', label: '127.0.0.1:3128', isProxy: true };
/** 10 per 1000 ms with a 20 ms margin: starts 102 ms apart. */
const BUDGET: RateBudget = { limit: 10, windowMs: 1000, marginMs: 20 };

type Steam = WorkerConfig['steam'];
/** The limiter's settings; each budget defaults to {@link BUDGET}. */
type Settings = Partial<Omit<Steam, 'budgets'>> & { store?: Partial<RateBudget>; api?: Partial<RateBudget> };

/** Runs against the local Redis, under a prefix of its own. */
function limiterFor({ store, api, ...steam }: Settings): { limiter: EgressLimiter; redis: RedisClient } {
  const config = {
    redis: { url: 'redis://127.0.0.1:6379', prefix: `test:limiter-${randomUUID().slice(0, 8)}`, taskStateTtlS: 60 },
    steam: {
      budgets: { store: { ...BUDGET, ...store }, api: { ...BUDGET, ...api } },
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

const READY = { state: 'ready' };
const BOTH_READY = { store: READY, api: READY };

/** A client of the test's own, to look at and change what the limiter wrote. */
const inspect = new Redis('redis://127.0.0.1:6379');

describe(EgressLimiter.name, () => {
  const clients: RedisClient[] = [];
  const make = (steam: Settings = {}) => {
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
      const { startsInMs } = reserved(await limiter.reserve([DIRECT_EGRESS], 'store'));
      starts.push(performance.now() + startsInMs);
    }
    // (1000 + 20 ms margin) / 10; the local clock reads each answer a few ms late or early.
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(97);
    expect(limiter.paces.store.spacingUs).toBe(102_000);
  });

  it('lets L requests leave in any W + margin, however late their reserved starts were', async () => {
    const limiter = make({ store: { limit: 3, windowMs: 300, marginMs: 30 }, egressConcurrency: 10 });
    const reservation = reserved(await limiter.reserve([DIRECT_EGRESS], 'store'));
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
    const limiter = make({ store: { limit: 2, windowMs: 5000, marginMs: 30 }, egressConcurrency: 10 });
    const first = reserved(await limiter.reserve([DIRECT_EGRESS], 'store'));
    const second = { ...first, leaseId: 'second' };
    expect(await limiter.depart(second, 'r2')).toBe(0);
    // Both were recorded (L = 2); passing again does not count a third.
    expect(await limiter.depart(second, 'r2')).toBe(0);
    expect(await limiter.depart(first, 'r1')).toBe(0);
    expect(waitOf(await limiter.depart({ ...first, leaseId: 'third' }, 'r3'))).toBeGreaterThan(4000);
  });

  it('lets no reserved start leave while its egress cools down after a 429', async () => {
    const limiter = make({ egressConcurrency: 3, store: { limit: 100 } });
    const reservations = [
      reserved(await limiter.reserve([DIRECT_EGRESS], 'store')),
      reserved(await limiter.reserve([DIRECT_EGRESS], 'store')),
    ];
    await limiter.coolDown(DIRECT_EGRESS, 'store', 2000);
    for (const reservation of reservations) {
      expect(waitOf(await limiter.depart({ ...reservation, departed: false }, reservation.leaseId))).toBeGreaterThan(
        1500,
      );
    }
  });

  it('never lets a cancelled request leave (the mark is in Redis, read by every process)', async () => {
    const limiter = make({ egressConcurrency: 2 });
    const reservation = reserved(await limiter.reserve([DIRECT_EGRESS], 'store'));
    await limiter.cancel('job-7');
    expect(await limiter.depart(reservation, 'job-7')).toBe('cancelled');
    expect(await limiter.depart({ ...reservation, leaseId: 'another' }, 'job-8')).toBe(0);
  });

  it('holds no more than STEAM_EGRESS_CONCURRENCY reservations on a budget of an egress, and frees one on release', async () => {
    const limiter = make();
    const first = reserved(await limiter.reserve([DIRECT_EGRESS], 'store'));
    const blocked = await limiter.reserve([DIRECT_EGRESS], 'store');
    expect('retryInMs' in blocked).toBe(true);
    await limiter.release(first);
    expect('reservation' in (await limiter.reserve([DIRECT_EGRESS], 'store'))).toBe(true);
  });

  it('lets a lease that its holder stops renewing expire STEAM_TIMEOUT_MS + 5 s after it was taken', async () => {
    const { limiter, redis } = limiterFor({ timeoutMs: 1000 });
    clients.push(redis);
    // Due at once: reserved, through the gate and holding a lease, all in one call.
    const lease = reserved(await limiter.reserve([DIRECT_EGRESS], 'store'));
    expect(lease.departed).toBe(true);
    const holdings = [redis.key('egress', 'direct', 'store', 'reservations'), redis.key('egress', 'direct', 'leases')];
    for (const key of holdings) {
      const expiresAtUs = Number(await inspect.zscore(key, lease.leaseId));
      expect(expiresAtUs / 1000 - Date.now(), key).toBeGreaterThan(5500);
      expect(expiresAtUs / 1000 - Date.now(), key).toBeLessThanOrEqual(6050);
    }
    const api = reserved(await limiter.reserve([DIRECT_EGRESS], 'api'));
    expect(api.departed).toBe(false);
    expect(waitOf(await limiter.depart(api, 'r'))).toBeGreaterThan(0);
    // Time passes and the holder is gone: its expiries lie in the past.
    for (const key of holdings) await inspect.zadd(key, String((Date.now() - 1) * 1000), lease.leaseId);
    expect('reservation' in (await limiter.reserve([DIRECT_EGRESS], 'store'))).toBe(true);
    expect(await limiter.depart(api, 'r')).toBe(0);
  });

  it('moves to the next egress while one is leased or cooling down', async () => {
    const limiter = make();
    const first = reserved(await limiter.reserve([DIRECT_EGRESS, PROXY], 'store'));
    const second = reserved(await limiter.reserve([DIRECT_EGRESS, PROXY], 'store'));
    expect([first.egress.id, second.egress.id].sort()).toEqual(['direct', 'proxy:127.0.0.1:3128']);
    await limiter.release(first);
    await limiter.release(second);
    await limiter.coolDown(DIRECT_EGRESS, 'store', 10_000);
    const third = reserved(await limiter.reserve([DIRECT_EGRESS, PROXY], 'store'));
    expect(third.egress.id).toBe('proxy:127.0.0.1:3128');
  });

  it('makes a request wait out the cooldown when every egress is cooling down', async () => {
    const limiter = make();
    const { until, before, after } = await limiter.coolDown(DIRECT_EGRESS, 'store', 800);
    expect([before, after]).toEqual(['ready', 'cooling']);
    expect(until.getTime()).toBeGreaterThan(Date.now() + 600);
    expect(await limiter.states([DIRECT_EGRESS])).toEqual([
      { egress: DIRECT_EGRESS, state: 'cooling', until, budgets: { store: { state: 'cooling', until }, api: READY } },
    ]);
    const answer = await limiter.reserve([DIRECT_EGRESS], 'store');
    expect('retryInMs' in answer && answer.retryInMs).toBeGreaterThan(600);
  });

  it('never shortens a cooldown that lasts longer', async () => {
    const limiter = make();
    const long = await limiter.coolDown(DIRECT_EGRESS, 'store', 5000);
    const short = await limiter.coolDown(DIRECT_EGRESS, 'store', 100);
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
    expect(await limiter.states([PROXY])).toEqual([{ egress: PROXY, state: 'ready', budgets: BOTH_READY }]);
    expect(await limiter.markWorking(PROXY)).toBe(false);
    const started = Date.now();
    const fresh = await limiter.markFailing(PROXY);
    expect(fresh.until.getTime() - started).toBeLessThan(100);
  });

  it('reports an egress whose cooldown ran out as recovered, once', async () => {
    const limiter = make({ cooldownMs: 50 });
    await limiter.coolDown(DIRECT_EGRESS, 'store', 50);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const first = await limiter.reserve([DIRECT_EGRESS], 'store');
    expect(first.recovered).toEqual([DIRECT_EGRESS]);
    if ('reservation' in first) await limiter.release(first.reservation);
    expect((await limiter.reserve([DIRECT_EGRESS], 'store')).recovered).toEqual([]);
  });

  it('renews a lease that is still held and reports one that expired', async () => {
    const limiter = make();
    const lease = reserved(await limiter.reserve([DIRECT_EGRESS], 'store'));
    expect(await limiter.renew(lease)).toBe(true);
    await limiter.release(lease);
    expect(await limiter.renew(lease)).toBe(false);
  });

  describe('two budgets per egress, the store and the Web API', () => {
    /** When each reserved start is due, by the local clock. */
    const startOf = async (limiter: EgressLimiter, budget: SteamBudget) =>
      performance.now() + reserved(await limiter.reserve([DIRECT_EGRESS], budget)).startsInMs;

    it('spaces the starts of each budget at its own pace, neither waiting for the other', async () => {
      // Store: (1000 + 20)/10 = 102 ms apart; Web API: (1000 + 20)/4 = 255 ms apart.
      const limiter = make({ egressConcurrency: 10, api: { limit: 4 } });
      const origin = performance.now();
      const store: number[] = [];
      const api: number[] = [];
      for (let i = 0; i < 3; i++) {
        store.push((await startOf(limiter, 'store')) - origin);
        api.push((await startOf(limiter, 'api')) - origin);
      }
      expect(limiter.paces.api.spacingUs).toBe(255_000);
      // The first of each starts at once, though the other budget's next start is 102 or 255 ms away.
      expect([store[0], api[0]].every((start) => start! < 30)).toBe(true);
      for (let i = 1; i < 3; i++) {
        expect(store[i]! - store[i - 1]!).toBeGreaterThanOrEqual(97);
        expect(store[i]! - store[i - 1]!).toBeLessThan(130);
        expect(api[i]! - api[i - 1]!).toBeGreaterThanOrEqual(250);
        expect(api[i]! - api[i - 1]!).toBeLessThan(280);
      }
    });

    it('keeps a departure log per budget: a full store gate leaves the Web API gate open', async () => {
      const slow = { limit: 2, windowMs: 5000, marginMs: 30 };
      const limiter = make({ egressConcurrency: 10, store: slow, api: slow });
      const store = reserved(await limiter.reserve([DIRECT_EGRESS], 'store'));
      expect(store.departed).toBe(true);
      expect(await limiter.depart({ ...store, leaseId: 'store-2' }, 'r')).toBe(0);
      expect(waitOf(await limiter.depart({ ...store, leaseId: 'store-3' }, 'r'))).toBeGreaterThan(4000);

      const api = reserved(await limiter.reserve([DIRECT_EGRESS], 'api'));
      expect(api.departed).toBe(true);
      expect(await limiter.depart({ ...api, leaseId: 'api-2' }, 'r')).toBe(0);
      expect(waitOf(await limiter.depart({ ...api, leaseId: 'api-3' }, 'r'))).toBeGreaterThan(4000);
    });

    it('cools only the budget a 429 came from: the other reserves and departs on', async () => {
      const limiter = make({ egressConcurrency: 10 });
      const apiBefore = reserved(await limiter.reserve([DIRECT_EGRESS], 'api'));
      const change = await limiter.coolDown(DIRECT_EGRESS, 'api', 2000);
      expect([change.before, change.after]).toEqual(['ready', 'cooling']);

      const store = reserved(await limiter.reserve([DIRECT_EGRESS], 'store'));
      expect(store.departed).toBe(true);
      expect(await limiter.depart({ ...store, leaseId: 'store-2', departed: false }, 'r')).toBe(0);
      const api = await limiter.reserve([DIRECT_EGRESS], 'api');
      expect('retryInMs' in api && api.retryInMs).toBeGreaterThan(1500);
      // A start reserved before the 429 does not leave either.
      expect(waitOf(await limiter.depart({ ...apiBefore, departed: false }, 'r'))).toBeGreaterThan(1500);
      const { until } = change;
      expect(await limiter.states([DIRECT_EGRESS])).toEqual([
        { egress: DIRECT_EGRESS, state: 'cooling', until, budgets: { store: READY, api: { state: 'cooling', until } } },
      ]);
    });

    it('reports the end of a cooldown to the budget that cooled, not to the other', async () => {
      const limiter = make({ egressConcurrency: 10 });
      await limiter.coolDown(DIRECT_EGRESS, 'store', 50);
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect((await limiter.reserve([DIRECT_EGRESS], 'api')).recovered).toEqual([]);
      expect((await limiter.reserve([DIRECT_EGRESS], 'store')).recovered).toEqual([DIRECT_EGRESS]);
    });

    it('pauses both budgets of an egress whose proxy fails, and sends both to another egress', async () => {
      const limiter = make({ egressConcurrency: 10, cooldownMs: 2000 });
      const storeBefore = reserved(await limiter.reserve([PROXY], 'store'));
      const { until } = await limiter.markFailing(PROXY);

      for (const budget of ['store', 'api'] as const) {
        const answer = await limiter.reserve([PROXY], budget);
        expect('retryInMs' in answer && answer.retryInMs, budget).toBeGreaterThan(1500);
        expect(reserved(await limiter.reserve([PROXY, DIRECT_EGRESS], budget)).egress, budget).toBe(DIRECT_EGRESS);
      }
      expect(waitOf(await limiter.depart({ ...storeBefore, departed: false }, 'r'))).toBeGreaterThan(1500);
      expect(await limiter.states([PROXY])).toEqual([{ egress: PROXY, state: 'failing', until, budgets: BOTH_READY }]);
    });

    it('lets no start waiting on one budget keep the other off the egress, and at most STEAM_EGRESS_CONCURRENCY in flight', async () => {
      const limiter = make({ egressConcurrency: 1 });
      const first = reserved(await limiter.reserve([DIRECT_EGRESS], 'store'));
      await limiter.release(first);
      // The next store start is 102 ms away: reserved, not in flight.
      const waiting = reserved(await limiter.reserve([DIRECT_EGRESS], 'store'));
      expect(waiting.startsInMs).toBeGreaterThan(80);
      const api = reserved(await limiter.reserve([DIRECT_EGRESS], 'api'));
      expect(api.departed).toBe(true);
      // The api request is in flight: the store start waits for its lease at the gate.
      await new Promise((resolve) => setTimeout(resolve, waiting.startsInMs));
      expect(waitOf(await limiter.depart(waiting, 'r'))).toBeGreaterThan(0);
      await limiter.release(api);
      expect(await limiter.depart(waiting, 'r')).toBe(0);
    });
  });
});
