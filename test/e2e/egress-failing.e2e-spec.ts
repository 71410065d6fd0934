import { describe, expect, it } from 'vitest';

import { OutputCapture } from '../support/output-capture';
import { egressOf, ForwardProxy } from '../support/forward-proxy';
import { BUDGETS_READY, EgressHealth, range, sleep } from '../support/shapes';
import { useWorld } from '../support/vitest-world';

const COOLDOWN_MS = 500;
const WRONG_PASSWORD = 'Wr0ngS3cret-pw';

/**
 * Proxies that fail as proxies: one refuses connections (then comes back),
 * one refuses the credentials the worker was given (407). With
 * STEAM_MAX_ATTEMPTS=1, a proxy failure that used a request's attempt would
 * fail that request.
 */
describe('Steam egress pool: failing proxies', () => {
  const refusing = new ForwardProxy({ name: 'proxy-refusing' });
  const locked = new ForwardProxy({ name: 'proxy-locked', auth: { user: 'steam', pass: 'the-right-one' } });
  const capture = new OutputCapture();
  const output = capture.output;
  const world = useWorld(
    'egress-failing',
    () => ({
      STEAM_RATE_LIMIT: '10',
      STEAM_RATE_WINDOW_MS: '1000',
      STEAM_PROXIES: `${refusing.url()},${locked.url({ user: 'steam', pass: WRONG_PASSWORD })}`,
      STEAM_COOLDOWN_MS: String(COOLDOWN_MS),
      STEAM_MAX_ATTEMPTS: '1',
      LOG_LEVEL: 'trace',
    }),
    {
      capture,
      setUp: () => Promise.all([refusing.start(), locked.start()]),
      tearDown: () => Promise.all([refusing.stop(), locked.stop()]),
    },
  );

  const resultOf = async (taskId: string) => (await world.resultOf(taskId)).body;

  const publishBatch = (taskId: string, appIds: number[], countries: string[]) =>
    world.publishTask('apps.fetch', { taskId, appIds, countries });

  const health = async () => {
    const response = await fetch(`${world.worker.url}/health`);
    const text = await response.text();
    const body = JSON.parse(text) as { status: string; details: Record<string, EgressHealth> };
    return { httpStatus: response.status, status: body.status, details: body.details, text };
  };

  const appDetailsSince = (before: number) =>
    world.standIns.steam.requests.slice(before).filter((request) => request.url.pathname === '/api/appdetails');

  it('skips a proxy that refuses connections or the credentials, shows it failing, and spends no attempt on it', async () => {
    await refusing.refuse();
    const before = world.standIns.steam.requests.length;
    const appIds = range(1, 10);

    publishBatch('refused', appIds, ['DE', 'US']);
    const result = await resultOf('refused');
    const seen = await health();

    expect(result).toEqual({ pattern: 'apps.fetch.done', data: { taskId: 'refused', updated: appIds, failed: [] } });
    const requests = appDetailsSince(before);
    expect(requests).toHaveLength(20);
    expect(requests.every((request) => egressOf(request) === 'direct')).toBe(true);
    // The worker did try the locked proxy, with the (wrong) credentials of its URL.
    expect(locked.counts.authRefused).toBeGreaterThanOrEqual(1);
    expect(locked.counts.forwarded).toBe(0);
    // An egress never fails liveness.
    expect(seen.httpStatus).toBe(200);
    expect(seen.status).toBe('ok');
    expect(seen.details['egress:direct']).toEqual({ status: 'up', state: 'ready', ...BUDGETS_READY });
    for (const proxy of [refusing, locked]) {
      expect(seen.details[`egress:${proxy.label}`], proxy.name).toEqual({
        status: 'up',
        state: 'failing',
        until: expect.any(String),
        // The whole egress is paused; neither budget cools.
        ...BUDGETS_READY,
      });
    }
  });

  it('makes a failing proxy ready again once it is back and has carried a request', async () => {
    await refusing.restore();
    const key = `egress:${refusing.label}`;
    // Its cooldown (doubled on each failure, at most 10 × STEAM_COOLDOWN_MS) ends first.
    const { until } = (await health()).details[key]!;
    expect(Date.parse(until!)).toBeLessThanOrEqual(Date.now() + 10 * COOLDOWN_MS + 500);
    await sleep(Math.max(0, Date.parse(until!) - Date.now()) + 100);
    expect((await health()).details[key]!.state).toBe('failing');
    const before = world.standIns.steam.requests.length;
    const appIds = range(101, 10);

    publishBatch('back', appIds, ['GB', 'JP']);
    const result = await resultOf('back');

    expect(result).toEqual({ pattern: 'apps.fetch.done', data: { taskId: 'back', updated: appIds, failed: [] } });
    const throughRefusing = appDetailsSince(before).filter((request) => egressOf(request) === refusing.name);
    expect(throughRefusing.length).toBeGreaterThanOrEqual(1);
    const seen = await health();
    expect(seen.details[key]).toEqual({ status: 'up', state: 'ready', ...BUDGETS_READY });
    expect(seen.details[`egress:${locked.label}`]).toEqual({
      status: 'up',
      state: 'failing',
      until: expect.any(String),
      ...BUDGETS_READY,
    });
  });

  it('never shows the proxy password in logs or on /health', async () => {
    const seen = await health();
    const basic = Buffer.from(`steam:${WRONG_PASSWORD}`).toString('base64');
    const everything = [...output, seen.text, ...world.results.map((message) => JSON.stringify(message.body))].join(
      '\n',
    );

    expect(output.length).toBeGreaterThan(0);
    expect(everything).not.toContain(WRONG_PASSWORD);
    expect(everything).not.toContain(basic);
  });
});
