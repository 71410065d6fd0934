import { afterAll, describe, expect, it } from 'vitest';

import type { SteamBudget } from '../steam-budget';
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

/**
 * Two budgets per egress (docs/contract.md#rate-limit): the store's and the
 * Web API's, each with its own spacing, departure log and cooldown, sharing
 * the egress' leases and its failing state.
 */
describe(`${EgressLimiter.name}: two budgets per egress, the store and the Web API`, () => {
  const fixture = limiterFixture();
  const make = (settings?: LimiterSettings) => fixture.make(settings).limiter;
  afterAll(fixture.close);

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
