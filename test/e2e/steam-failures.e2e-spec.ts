import { describe, expect, it } from 'vitest';

import type { Reply } from '../support/http-stand-in';
import { appDetailsEntry, AppDetailsCall } from '../support/steam.stand-in';
import { useWorld } from '../support/vitest-world';
import type { WorkerFixture } from '../support/worker.harness';

/**
 * How the worker reads Steam's failures (docs/contract.md#steam-failures): which are retried,
 * which cool the egress down, which are permanent, and how the backoff grows.
 */

const COOLDOWN_MS = 500;
const BACKOFF_MS = 100;
const STEAM_MAX_ATTEMPTS = 3;
/** Room for timer and clock granularity in lower bounds on waits. */
const SLACK_MS = 50;

/** The body of the result of `taskId`. */
const resultOf = async (world: WorkerFixture, taskId: string) => (await world.resultOf(taskId)).body;

/** Arrival times of the appdetails requests for one (app, country), in order. */
const steamCalls = (world: WorkerFixture, appId: number, country: string) =>
  world.standIns.steam.appDetailsFor(appId, country).map((request) => request.at);

/** Scripts `reply` for the first appdetails request among `appIds`; returns when it arrived. */
function failFirstRequest(
  world: WorkerFixture,
  appIds: number[],
  reply: Reply,
): { at?: number; appId?: number; country?: string } {
  const failed: { at?: number; appId?: number; country?: string } = {};
  world.standIns.steam.script = (call: AppDetailsCall) => {
    if (failed.at !== undefined || !appIds.includes(call.appId)) return undefined;
    Object.assign(failed, {
      at: call.request.at,
      appId: call.appId,
      country: call.country,
    });
    return reply;
  };
  return failed;
}

describe('Steam failures', () => {
  const world = useWorld('steam-failures', () => ({
    STEAM_COOLDOWN_MS: String(COOLDOWN_MS),
    STEAM_BACKOFF_MS: String(BACKOFF_MS),
    STEAM_MAX_ATTEMPTS: String(STEAM_MAX_ATTEMPTS),
  }));

  const coolingCases: { what: string; reply: Reply; pauseMs: number }[] = [
    {
      what: 'a 429 without Retry-After pauses the egress for STEAM_COOLDOWN_MS',
      reply: { status: 429, body: null },
      pauseMs: COOLDOWN_MS,
    },
    {
      what: 'a 429 with Retry-After: 1 pauses the egress for one second',
      reply: { status: 429, body: null, headers: { 'Retry-After': '1' } },
      pauseMs: 1000,
    },
    {
      what: "the store's 403 block page pauses the egress for STEAM_COOLDOWN_MS",
      reply: {
        status: 403,
        text: '<html><head><title>Access Denied</title></head><body>Access Denied</body></html>',
      },
      pauseMs: COOLDOWN_MS,
    },
  ];

  coolingCases.forEach(({ what, reply, pauseMs }, index) =>
    it(`${what}, then retries the pair until it succeeds`, async () => {
      const base = 5001 + index * 10;
      const appIds = [base, base + 1, base + 2];
      const taskId = `t-cool-${base}`;
      const failed = failFirstRequest(world, appIds, reply);

      world.publishTask('apps.fetch', { taskId, appIds, countries: ['DE'] });

      expect(await resultOf(world, taskId)).toEqual({
        pattern: 'apps.fetch.done',
        data: { taskId, updated: appIds, failed: [] },
      });
      expect(failed.at).toBeDefined();
      expect(steamCalls(world, failed.appId!, failed.country!)).toHaveLength(2);
      // No request of any pair left through the cooling egress until the pause was over.
      const after = world.standIns.steam.appDetailsRequests
        .map((request) => request.at)
        .filter((at) => at > failed.at!);
      expect(after.length).toBeGreaterThanOrEqual(1);
      expect(Math.min(...after) - failed.at!).toBeGreaterThanOrEqual(pauseMs - SLACK_MS);
      for (const appId of appIds)
        expect(world.standIns.backend.stored.get(`${appId}/DE`)).toMatchObject({
          available: true,
        });
    }),
  );

  it('fails the pair with steam_error after exactly one request when Steam answers 400', async () => {
    world.standIns.steam.script = ({ appId }) => (appId === 5101 ? { status: 400, body: null } : undefined);

    world.publishTask('app.fetch', { taskId: 't-400', appId: 5101, country: 'de' });

    expect(await resultOf(world, 't-400')).toEqual({
      pattern: 'app.fetch.done',
      data: {
        taskId: 't-400',
        updated: [],
        failed: [{ appId: 5101, countries: ['DE'], reason: 'steam_error' }],
      },
    });
    expect(steamCalls(world, 5101, 'DE')).toHaveLength(1);
    expect(
      world.standIns.backend.requests.filter((request) => request.url.pathname.startsWith('/apps/5101/')),
    ).toHaveLength(0);
  });

  const transientCases: { what: string; reply: (appId: number) => Reply }[] = [
    {
      what: 'a 200 with a null body',
      reply: () => ({ status: 200, body: null }),
    },
    {
      what: "a 200 lacking the app's entry",
      reply: () => ({ status: 200, body: {} }),
    },
    {
      what: "a 200 with another app's entry only",
      reply: (appId) => ({
        status: 200,
        body: { [appId + 1]: { success: false } },
      }),
    },
    {
      what: 'a 500',
      reply: () => ({
        status: 500,
        text: '<html>Internal Server Error</html>',
      }),
    },
    {
      what: 'a 502 with a null body',
      reply: () => ({ status: 502, body: null }),
    },
    { what: 'a connection reset', reply: () => ({ status: 200, reset: true }) },
  ];

  transientCases.forEach(({ what, reply }, index) =>
    it(`retries a pair after ${what} and counts it updated once Steam answers`, async () => {
      const appId = 5201 + index;
      const taskId = `t-transient-${appId}`;
      world.standIns.steam.script = (call) => (call.appId === appId && call.attempt === 1 ? reply(appId) : undefined);

      world.publishTask('app.fetch', { taskId, appId, country: 'PL' });

      expect(await resultOf(world, taskId)).toEqual({
        pattern: 'app.fetch.done',
        data: { taskId, updated: [appId], failed: [] },
      });
      expect(steamCalls(world, appId, 'PL')).toHaveLength(2);
      expect(world.standIns.backend.stored.get(`${appId}/PL`)).toMatchObject({
        appId,
        country: 'PL',
        available: true,
        details: appDetailsEntry(appId, 'PL').data,
      });
    }),
  );

  it('waits about twice as long before each further attempt', async () => {
    world.standIns.steam.script = ({ appId, attempt }) =>
      appId === 5301 && attempt <= 2 ? { status: 503, body: null } : undefined;

    world.publishTask('app.fetch', {
      taskId: 't-backoff',
      appId: 5301,
      country: 'GB',
    });

    expect(await resultOf(world, 't-backoff')).toEqual({
      pattern: 'app.fetch.done',
      data: { taskId: 't-backoff', updated: [5301], failed: [] },
    });
    const [first, second, third, ...more] = steamCalls(world, 5301, 'GB');
    expect(more).toHaveLength(0);
    // STEAM_BACKOFF_MS × 2^(n−1) with ±20 % jitter: at least 80 ms, then at least 160 ms.
    expect(second! - first!).toBeGreaterThanOrEqual(BACKOFF_MS * 0.8);
    expect(third! - second!).toBeGreaterThanOrEqual(BACKOFF_MS * 2 * 0.8);
  });

  it('pushes {"success":false} as available:false with null details and counts the app updated', async () => {
    world.standIns.steam.script = ({ appId }) =>
      appId === 5401 ? { status: 200, body: { 5401: { success: false } } } : undefined;

    world.publishTask('apps.fetch', {
      taskId: 't-unavailable',
      appIds: [5402, 5401],
      countries: ['JP', 'US'],
    });

    expect(await resultOf(world, 't-unavailable')).toEqual({
      pattern: 'apps.fetch.done',
      data: { taskId: 't-unavailable', updated: [5401, 5402], failed: [] },
    });
    expect(steamCalls(world, 5401, 'JP')).toHaveLength(1);
    expect(steamCalls(world, 5401, 'US')).toHaveLength(1);
    for (const country of ['JP', 'US']) {
      expect(world.standIns.backend.stored.get(`5401/${country}`)).toEqual({
        appId: 5401,
        country,
        available: false,
        details: null,
        fetchedAt: expect.any(String),
      });
      expect(world.standIns.backend.stored.get(`5402/${country}`)).toMatchObject({ available: true });
    }
  });
});

describe('Steam answering slower than STEAM_TIMEOUT_MS', () => {
  const TIMEOUT_MS = 300;
  const world = useWorld('steam-timeout', () => ({
    STEAM_TIMEOUT_MS: String(TIMEOUT_MS),
    STEAM_BACKOFF_MS: '20',
  }));

  it('abandons the slow request, retries it, and counts the app updated', async () => {
    world.standIns.steam.script = ({ appId, country, attempt }) =>
      attempt === 1
        ? {
            status: 200,
            body: { [appId]: appDetailsEntry(appId, country) },
            delayMs: 1000,
          }
        : undefined;

    world.publishTask('app.fetch', {
      taskId: 't-timeout',
      appId: 5501,
      country: 'FR',
    });

    expect(await resultOf(world, 't-timeout')).toEqual({
      pattern: 'app.fetch.done',
      data: { taskId: 't-timeout', updated: [5501], failed: [] },
    });
    const [first, second] = steamCalls(world, 5501, 'FR');
    // The slow answer would have been a success: a second request means the first was
    // abandoned, and not before STEAM_TIMEOUT_MS.
    expect(second).toBeDefined();
    expect(second! - first!).toBeGreaterThanOrEqual(TIMEOUT_MS - SLACK_MS);
    expect(world.standIns.backend.stored.get('5501/FR')).toMatchObject({
      appId: 5501,
      country: 'FR',
      available: true,
    });
  });

  it('abandons an answer whose body trickles past STEAM_TIMEOUT_MS, however lively its socket, and retries it', async () => {
    world.standIns.steam.script = ({ appId, country, attempt }) =>
      attempt === 1 ? { status: 200, body: { [appId]: appDetailsEntry(appId, country) }, trickle: 20 } : undefined;

    world.publishTask('app.fetch', { taskId: 't-trickle', appId: 5502, country: 'FR' });

    expect(await resultOf(world, 't-trickle')).toEqual({
      pattern: 'app.fetch.done',
      data: { taskId: 't-trickle', updated: [5502], failed: [] },
    });
    const [first, second] = steamCalls(world, 5502, 'FR');
    // A byte every 20 ms never idles the socket for 300 ms; only a bound on the whole answer ends it.
    expect(second).toBeDefined();
    expect(second! - first!).toBeGreaterThanOrEqual(TIMEOUT_MS - SLACK_MS);
    expect(second! - first!).toBeLessThan(TIMEOUT_MS + 1000);
  });
});

describe('Steam asking for a Retry-After of a year', () => {
  const COOLDOWN = 200;
  const world = useWorld('steam-retry-after', () => ({ STEAM_COOLDOWN_MS: String(COOLDOWN) }));

  it('pauses the egress for at most 10 × STEAM_COOLDOWN_MS, then retries the pair', async () => {
    const failed = failFirstRequest(world, [5601], { status: 429, body: null, headers: { 'Retry-After': '31536000' } });

    world.publishTask('app.fetch', { taskId: 't-retry-after-year', appId: 5601, country: 'DE' });

    expect(await resultOf(world, 't-retry-after-year')).toEqual({
      pattern: 'app.fetch.done',
      data: { taskId: 't-retry-after-year', updated: [5601], failed: [] },
    });
    const [first, second] = steamCalls(world, 5601, 'DE');
    expect(first).toBe(failed.at);
    expect(second! - first!).toBeGreaterThanOrEqual(10 * COOLDOWN - SLACK_MS);
    expect(second! - first!).toBeLessThan(10 * COOLDOWN + 2000);
  });
});
