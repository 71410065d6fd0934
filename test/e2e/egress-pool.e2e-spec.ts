import { describe, expect, it, vi } from 'vitest';

import { OutputCapture } from '../support/output-capture';
import { SteamClient } from '../../src/steam/steam.client';

import { egressOf, ForwardProxy } from '../support/forward-proxy';
import { maxInSlidingWindow } from '../support/http-stand-in';
import { BUDGETS_READY, EgressHealth, range } from '../support/shapes';
import { waitFor } from '../support/rmq';
import { useWorld } from '../support/vitest-world';

const LIMIT = 5;
const WINDOW_MS = 1000;
/**
 * Arrivals at the proxies and the stand-in Steam (all in this one process,
 * beside the workers) lag the worker's send by up to tens of ms on a busy
 * machine; they are checked against a window this much shorter than W, which
 * still catches a limiter that is not per egress or counts fixed windows.
 * Starts (the workers' Steam calls) are checked against W itself.
 */
const HOP_JITTER_MS = 100;
const COOLDOWN_MS = 3000;
/** Needs URL encoding ('@'); the agents decode it. Scanned for in everything the worker says. */
const PASSWORD = 'Pr0xyS3cret@pool';
const SECRET_MARK = 'Pr0xyS3cret';
const PROXY_USER = 'steam';

/**
 * The egress pool seen from outside: the host's own IP and two local forward
 * proxies (one demanding basic auth) that tag what they forward, so the
 * stand-in Steam knows each request's egress. Two worker instances share Redis.
 */
describe('Steam egress pool: direct and two proxies', () => {
  const plain = new ForwardProxy({ name: 'proxy-plain' });
  const authed = new ForwardProxy({ name: 'proxy-auth', auth: { user: PROXY_USER, pass: PASSWORD } });
  /** Every Steam call the workers started: when, through which egress (its label), by which worker. */
  const starts: { at: number; egress: string; worker: number }[] = [];
  /** Everything the workers wrote while this file ran, at LOG_LEVEL=trace. */
  const capture = new OutputCapture();
  const output = capture.output;
  const world = useWorld(
    'egress-pool',
    () => ({
      STEAM_RATE_LIMIT: String(LIMIT),
      STEAM_RATE_WINDOW_MS: String(WINDOW_MS),
      STEAM_PROXIES: `${plain.url()},${authed.url()}`,
      STEAM_COOLDOWN_MS: String(COOLDOWN_MS),
      STEAM_MAX_ATTEMPTS: '2',
      LOG_LEVEL: 'trace',
    }),
    {
      // Each worker's Steam calls are recorded as it starts them.
      onWorker: (worker, index) => {
        const client = worker.app.get(SteamClient);
        const call = client.call.bind(client);
        vi.spyOn(client, 'call').mockImplementation((request, egress, options) => {
          starts.push({ at: performance.now(), egress: egress.label, worker: index });
          return call(request, egress, options);
        });
      },
      capture,
      setUp: () => Promise.all([plain.start(), authed.start()]),
      tearDown: () => Promise.all([plain.stop(), authed.stop()]),
    },
  );
  const { workers } = world;

  const resultOf = async (taskId: string) => (await world.resultOf(taskId)).body;

  const publishBatch = (taskId: string, appIds: number[], countries: string[]) =>
    world.publishTask('apps.fetch', { taskId, appIds, countries });

  const appDetailsSince = (before: number) =>
    world.standIns.steam.requests.slice(before).filter((request) => request.url.pathname === '/api/appdetails');

  /** Arrivals through each egress since `since` (performance.now()): at the proxy, or at Steam for direct. */
  const arrivalsSince = (since: number) => ({
    direct: world.standIns.steam.requests
      .filter((request) => egressOf(request) === 'direct' && request.at >= since)
      .map((request) => request.at),
    [plain.name]: plain.arrivals.filter((at) => at >= since),
    [authed.name]: authed.arrivals.filter((at) => at >= since),
  });

  /** Steam calls the workers started through each egress since `since`. */
  const startsSince = (since: number) => ({
    direct: starts.filter((start) => start.egress === 'direct' && start.at >= since).map((start) => start.at),
    [plain.name]: starts.filter((start) => start.egress === plain.label && start.at >= since).map((start) => start.at),
    [authed.name]: starts
      .filter((start) => start.egress === authed.label && start.at >= since)
      .map((start) => start.at),
  });

  const expectEveryEgressWithinLimit = (since: number) => {
    for (const [egress, times] of Object.entries(startsSince(since))) {
      expect(maxInSlidingWindow(times, WINDOW_MS), `most starts through ${egress} in one window`).toBeLessThanOrEqual(
        LIMIT,
      );
    }
    for (const [egress, times] of Object.entries(arrivalsSince(since))) {
      expect(
        maxInSlidingWindow(times, WINDOW_MS - HOP_JITTER_MS),
        `most arrivals through ${egress} in one window`,
      ).toBeLessThanOrEqual(LIMIT);
    }
  };

  const egressHealth = async (worker = workers[0]!) => {
    const response = await fetch(`${worker.url}/health`);
    const text = await response.text();
    const body = JSON.parse(text) as { status: string; details: Record<string, unknown> };
    const egresses = Object.fromEntries(
      Object.entries(body.details).filter(([key]) => key.startsWith('egress:')),
    ) as Record<string, EgressHealth>;
    return { httpStatus: response.status, status: body.status, egresses, text };
  };

  const waitUntilAllReady = () =>
    waitFor(
      async () => Object.values((await egressHealth()).egresses).every((egress) => egress.state === 'ready'),
      20_000,
      'every egress ready',
    );

  it('keeps each egress within L requests in any window, uses all of them, and goes about N times as fast', async () => {
    const started = performance.now();
    const before = world.standIns.steam.requests.length;
    const appIds = range(101, 15);
    const countries = ['DE', 'GB', 'US'];

    publishBatch('spread', appIds, countries);
    const result = await resultOf('spread');

    expect(result).toEqual({ pattern: 'apps.fetch.done', data: { taskId: 'spread', updated: appIds, failed: [] } });
    const requests = appDetailsSince(before);
    expect(requests).toHaveLength(45);
    expectEveryEgressWithinLimit(started);
    const shares = Object.fromEntries(
      ['direct', plain.name, authed.name].map((egress) => [
        egress,
        requests.filter((request) => egressOf(request) === egress).length,
      ]),
    );
    // Every egress carried a fair part (a third each when all are alike).
    for (const [egress, share] of Object.entries(shares)) {
      expect(share, `requests through ${egress}`).toBeGreaterThanOrEqual(8);
    }
    // One egress alone needs (45 − 1) × W/L for them; three do it in about a
    // third of that. Loose: at least twice as fast as one.
    const times = requests.map((request) => request.at);
    const span = Math.max(...times) - Math.min(...times);
    expect(((45 - 1) * WINDOW_MS) / LIMIT / span).toBeGreaterThanOrEqual(2);
  });

  it('never lets two worker instances sharing Redis exceed any egress limit together', async () => {
    await world.startWorker();
    const started = performance.now();
    const before = world.standIns.steam.requests.length;
    const tasks = range(1, 6).map((task) => ({
      taskId: `shared-${task}`,
      appIds: [200 + task * 10 + 1, 200 + task * 10 + 2],
    }));

    for (const task of tasks) publishBatch(task.taskId, task.appIds, ['FR', 'JP', 'PL', 'US']);
    const results = await Promise.all(tasks.map((task) => resultOf(task.taskId)));

    expect(results).toEqual(
      tasks.map((task) => ({
        pattern: 'apps.fetch.done',
        data: { taskId: task.taskId, updated: task.appIds, failed: [] },
      })),
    );
    expect(appDetailsSince(before)).toHaveLength(48);
    expectEveryEgressWithinLimit(started);
    // Both instances sent Steam requests.
    const by = (worker: number) => starts.filter((start) => start.at >= started && start.worker === worker).length;
    expect([by(0) > 0, by(1) > 0]).toEqual([true, true]);
  });

  it('cools down a proxy that answers 429 and moves its share to the other egresses', async () => {
    const started = performance.now();
    const before = world.standIns.steam.requests.length;
    const forwardedBefore = plain.counts.forwarded;
    const appIds = range(301, 10);
    plain.answerStatus(429);
    try {
      publishBatch('throttled', appIds, ['DE', 'US']);
      await waitFor(() => plain.counts.answered >= 1, 10_000, 'a 429 from the proxy');
      const cooling = await waitFor(
        async () => {
          const { egresses } = await egressHealth();
          const state = egresses[`egress:${plain.label}`];
          return state?.state === 'cooling' ? state : undefined;
        },
        5000,
        'the proxy cooling down',
      );
      const now = Date.now();

      // Only the store budget (appdetails) cools; the Web API's stays ready.
      expect(cooling).toEqual({
        status: 'up',
        state: 'cooling',
        until: cooling.store?.until,
        store: { state: 'cooling', until: expect.any(String) },
        api: { state: 'ready' },
      });
      expect(Date.parse(cooling.until!)).toBeGreaterThan(now);
      expect(Date.parse(cooling.until!)).toBeLessThanOrEqual(now + COOLDOWN_MS + 500);
      const result = await resultOf('throttled');
      expect(result).toEqual({
        pattern: 'apps.fetch.done',
        data: { taskId: 'throttled', updated: appIds, failed: [] },
      });
      // 20 pairs take about 2 s on the two others, less than one cooldown:
      // the proxy was asked once (twice on a slow day), the others did the rest.
      expect(plain.counts.answered).toBeLessThanOrEqual(2);
      const requests = appDetailsSince(before);
      expect(requests).toHaveLength(20);
      expect(requests.filter((request) => egressOf(request) === plain.name)).toHaveLength(0);
      expect(plain.counts.forwarded).toBe(forwardedBefore);
      expectEveryEgressWithinLimit(started);
    } finally {
      plain.answerStatus(undefined);
    }
    await waitUntilAllReady();
  });

  it('makes requests wait, using none of their attempts, while every egress cools down for its Retry-After', async () => {
    const appIds = range(401, 6);
    const throttled = new Set<string>();
    const throttledPairs = new Set<string>();
    // Steam answers the first request through each egress with a 429 and
    // Retry-After: 2, but never twice for one pair: on a slow machine a pair's
    // retry can be the first request through another egress, and a second 429
    // would spend its last attempt whatever the waits do.
    world.standIns.steam.script = ({ request }) => {
      const egress = egressOf(request);
      const pair = request.url.search;
      if (throttled.has(egress) || throttledPairs.has(pair)) return undefined;
      throttled.add(egress);
      throttledPairs.add(pair);
      return { status: 429, body: null, headers: { 'Retry-After': '2' } };
    };
    try {
      publishBatch('all-cooling', appIds, ['GB', 'US']);
      const health = await waitFor(
        async () => {
          const seen = await egressHealth();
          const states = Object.values(seen.egresses);
          return states.length === 3 && states.every((egress) => egress.state === 'cooling') ? seen : undefined;
        },
        5000,
        'every egress cooling down',
      );
      const now = Date.now();

      // Liveness stays up: an egress never fails it.
      expect(health.httpStatus).toBe(200);
      expect(health.status).toBe('ok');
      for (const [key, state] of Object.entries(health.egresses)) {
        expect(state, key).toEqual({
          status: 'up',
          state: 'cooling',
          until: state.store?.until,
          store: { state: 'cooling', until: expect.any(String) },
          api: { state: 'ready' },
        });
        // Retry-After (2 s), not STEAM_COOLDOWN_MS (3 s).
        expect(Date.parse(state.until!) - now, key).toBeLessThanOrEqual(2000 + 300);
      }
      const result = await resultOf('all-cooling');
      // STEAM_MAX_ATTEMPTS is 2: a 429 took one attempt, the wait took none.
      expect(result).toEqual({
        pattern: 'apps.fetch.done',
        data: { taskId: 'all-cooling', updated: appIds, failed: [] },
      });
      expect(throttled.size).toBe(3);
    } finally {
      world.standIns.steam.script = undefined;
    }
    await waitUntilAllReady();
  });

  it('lists every egress on /health by host and port, and never shows the proxy password anywhere', async () => {
    // Not left cooling by a test above that failed half-way.
    await waitUntilAllReady();
    const health = await egressHealth();

    expect(health.httpStatus).toBe(200);
    expect(health.egresses).toEqual({
      'egress:direct': { status: 'up', state: 'ready', ...BUDGETS_READY },
      [`egress:${plain.label}`]: { status: 'up', state: 'ready', ...BUDGETS_READY },
      [`egress:${authed.label}`]: { status: 'up', state: 'ready', ...BUDGETS_READY },
    });
    // The proxy with basic auth carried requests with the credentials of its URL.
    expect(authed.counts.forwarded).toBeGreaterThan(10);
    expect(authed.counts.authRefused).toBe(0);
    const basic = Buffer.from(`${PROXY_USER}:${PASSWORD}`).toString('base64');
    const everything = [
      ...output,
      health.text,
      (await egressHealth(workers[1])).text,
      await (await fetch(`${workers[0]!.url}/health/ready`)).text(),
      ...world.results.map((message) => JSON.stringify(message.body)),
    ].join('\n');
    expect(output.length).toBeGreaterThan(0);
    expect(everything).not.toContain(SECRET_MARK);
    expect(everything).not.toContain(basic);
  });
});
