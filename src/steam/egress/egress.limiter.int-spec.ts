import { afterAll, describe, expect, it } from 'vitest';

import {
  BOTH_READY,
  limiterFixture,
  LimiterSettings,
  PROXY,
  READY,
  reserved,
  waitOf,
} from '../../../test/support/egress-limiter';
import { DIRECT_EGRESS } from './egress';
import { EgressLimiter } from './egress.limiter';

describe(EgressLimiter.name, () => {
  const fixture = limiterFixture();
  const { inspect } = fixture;
  const make = (settings?: LimiterSettings) => fixture.make(settings).limiter;
  afterAll(fixture.close);

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
    const { limiter, redis } = fixture.make({ timeoutMs: 1000 });
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
});
