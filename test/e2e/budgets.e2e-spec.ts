import { describe, expect, it, vi } from 'vitest';

import { SteamClient } from '../../src/steam/steam.client';

import { maxInSlidingWindow, RecordedRequest, Reply } from '../support/http-stand-in';
import { waitFor } from '../support/rmq';
import { BUDGETS_READY, EgressHealth, range } from '../support/shapes';
import { SteamStandIn } from '../support/steam.stand-in';
import { useWorld } from '../support/vitest-world';

const STORE_LIMIT = 5;
const API_LIMIT = 4;
const WINDOW_MS = 1000;
const COOLDOWN_MS = 2000;
const APP_DETAILS = '/api/appdetails';
const APP_LIST = '/IStoreService/GetAppList/v1/';

/** The stand-in Steam, with a script for GetAppList too (its own scripts appdetails only). */
class AppListScriptedSteam extends SteamStandIn {
  /** Return a reply to override GetAppList's normal answer, or undefined. */
  appListScript?: (request: RecordedRequest) => Reply | undefined;

  protected override handle(request: RecordedRequest): Reply {
    const scripted = request.url.pathname === APP_LIST ? this.appListScript?.(request) : undefined;
    return scripted ?? super.handle(request);
  }
}

/**
 * Steam limits its store (appdetails) and its Web API (GetAppList) apart, so
 * each egress has two budgets. Two worker instances share Redis; the stand-in
 * Steam counts, per host path, what arrives in every sliding window.
 */
describe('Two budgets per egress: the store and the Web API', () => {
  const steam = new AppListScriptedSteam();
  /** Steam calls each worker instance started. */
  const calls = [0, 0];
  const world = useWorld(
    'budgets',
    () => ({
      STEAM_RATE_LIMIT: String(STORE_LIMIT),
      STEAM_RATE_WINDOW_MS: String(WINDOW_MS),
      STEAM_API_RATE_LIMIT: String(API_LIMIT),
      STEAM_API_RATE_WINDOW_MS: String(WINDOW_MS),
      STEAM_COOLDOWN_MS: String(COOLDOWN_MS),
    }),
    {
      workers: 2,
      steam: () => steam,
      onWorker: (worker, index) => {
        const client = worker.app.get(SteamClient);
        const call = client.call.bind(client);
        vi.spyOn(client, 'call').mockImplementation((...args) => {
          calls[index]!++;
          return call(...args);
        });
      },
    },
  );

  /** Arrival times at Steam since request number `before`, per budget (by the path each host serves). */
  const arrivalsSince = (before: number) => {
    const requests = steam.requests.slice(before);
    const on = (path: string) => requests.filter((request) => request.url.pathname === path).map(({ at }) => at);
    return { store: on(APP_DETAILS), api: on(APP_LIST) };
  };

  const egressHealth = async () => {
    const body = (await (await fetch(`${world.worker.url}/health`)).json()) as {
      details: Record<string, EgressHealth>;
    };
    return body.details['egress:direct']!;
  };

  const publishFetches = (prefix: string, tasks: number, appsEach: number) =>
    range(0, tasks).map((task) => {
      const taskId = `${prefix}-${task}`;
      const appIds = range(1000 + 100 * task, appsEach);
      world.publishTask('apps.fetch', { taskId, appIds, countries: ['DE', 'US'] });
      return { taskId, appIds };
    });

  const expectFetched = async (tasks: { taskId: string; appIds: number[] }[]) => {
    for (const { taskId, appIds } of tasks) {
      expect((await world.resultOf(taskId)).body).toEqual({
        pattern: 'apps.fetch.done',
        data: { taskId, updated: appIds, failed: [] },
      });
    }
  };

  it('keeps each budget within its limit in every window while both are busy, together above either limit', async () => {
    const before = steam.requests.length;
    steam.appList = range(1, 48);
    // 16 pages of GetAppList, paged one after another, against 24 appdetails.
    steam.pageSize = 3;

    world.publishTask('apps.list', { taskId: 'list' });
    const fetches = publishFetches('fetch', 3, 4);
    expect((await world.resultOf('list')).body).toEqual({
      pattern: 'apps.list.done',
      data: { taskId: 'list', appIds: steam.appList, count: 48 },
    });
    await expectFetched(fetches);

    const { store, api } = arrivalsSince(before);
    expect([store.length, api.length]).toEqual([24, 16]);
    expect(maxInSlidingWindow(store, WINDOW_MS), 'most appdetails in one window').toBeLessThanOrEqual(STORE_LIMIT);
    expect(maxInSlidingWindow(api, WINDOW_MS), 'most GetAppList pages in one window').toBeLessThanOrEqual(API_LIMIT);
    // While both were in use, the egress carried more than either budget allows alone.
    const from = Math.max(Math.min(...store), Math.min(...api));
    const to = Math.min(Math.max(...store), Math.max(...api));
    const during = (times: number[]) => times.filter((at) => at >= from && at <= to);
    expect(to - from, 'how long both budgets were in use').toBeGreaterThan(2 * WINDOW_MS);
    const together = maxInSlidingWindow([...during(store), ...during(api)], WINDOW_MS);
    expect(together, 'most requests of both in one window').toBeGreaterThan(STORE_LIMIT);
    // Both instances sent Steam requests: the budgets are shared through Redis.
    expect(calls.every((count) => count > 0)).toBe(true);
  });

  it('cools only the Web API budget after a 429 on GetAppList: appdetails go on meanwhile', async () => {
    const before = steam.requests.length;
    steam.appList = range(1, 15);
    steam.pageSize = 3;
    let throttledAt: number | undefined;
    // The third page is answered 429 (no Retry-After: STEAM_COOLDOWN_MS applies).
    steam.appListScript = (request) => {
      if (throttledAt !== undefined || arrivalsSince(before).api.length < 3) return undefined;
      throttledAt = request.at;
      return { status: 429, body: null };
    };
    try {
      world.publishTask('apps.list', { taskId: 'throttled-list' });
      const fetches = publishFetches('during-cooldown', 2, 6);
      const cooling = await waitFor(
        async () => {
          const health = await egressHealth();
          return health.api?.state === 'cooling' ? health : undefined;
        },
        10_000,
        'the Web API budget cooling',
      );

      expect(cooling).toEqual({
        status: 'up',
        state: 'cooling',
        until: cooling.api?.until,
        store: { state: 'ready' },
        api: { state: 'cooling', until: expect.any(String) },
      });
      expect(Date.parse(cooling.api!.until!) - Date.now()).toBeLessThanOrEqual(COOLDOWN_MS + 300);
      expect((await world.resultOf('throttled-list')).body).toEqual({
        pattern: 'apps.list.done',
        data: { taskId: 'throttled-list', appIds: steam.appList, count: 15 },
      });
      await expectFetched(fetches);

      const { store, api } = arrivalsSince(before);
      const inCooldown = (times: number[]) =>
        times.filter((at) => at > throttledAt! && at < throttledAt! + COOLDOWN_MS);
      // No page left while the Web API budget cooled; the store kept its pace (about 9 in 2 s).
      expect(inCooldown(api)).toEqual([]);
      expect(inCooldown(store).length).toBeGreaterThanOrEqual(STORE_LIMIT);
      expect(maxInSlidingWindow(store, WINDOW_MS)).toBeLessThanOrEqual(STORE_LIMIT);
      // Five pages and the one answered 429.
      expect(api).toHaveLength(6);
    } finally {
      steam.appListScript = undefined;
    }
    await waitFor(async () => (await egressHealth()).state === 'ready', 10_000, 'the egress ready');
    expect(await egressHealth()).toEqual({ status: 'up', state: 'ready', ...BUDGETS_READY });
  });
});
