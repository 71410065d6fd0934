import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { egressOf, ForwardProxy } from '../support/forward-proxy';
import { BUDGETS_READY, EgressHealth } from '../support/shapes';
import { waitFor } from '../support/rmq';
import { TlsSteam } from '../support/tls-steam';
import { useWorld } from '../support/vitest-world';
import { ChildWorker } from '../support/worker.process';

const built = existsSync(join(__dirname, '..', '..', 'dist', 'main.js'));
const PASSWORD = 'Tunn3lS3cret-pw';

/**
 * The egress pool in the built worker (`node dist/main.js`): an https Steam
 * reached through a proxy's CONNECT tunnel (trusted through
 * NODE_EXTRA_CA_CERTS), and the lease of a killed process expiring.
 */
describe.runIf(built)('Steam egress pool in a worker process', () => {
  describe('an https Steam through a proxy with basic auth', () => {
    const proxy = new ForwardProxy({ name: 'tunnel', auth: { user: 'steam', pass: PASSWORD } });
    let tls: TlsSteam;
    let worker: ChildWorker;
    const world = useWorld('egress-tls', undefined, {
      workers: 0,
      tearDown: async () => {
        await proxy.stop();
        await tls?.stop();
      },
    });
    const resultOf = async (taskId: string) => (await world.resultOf(taskId)).body;

    beforeAll(async () => {
      await proxy.start();
      tls = await new TlsSteam(world.standIns.steam, [proxy]).start();
      worker = await world.spawn({
        STEAM_STORE_URL: tls.url,
        STEAM_API_URL: tls.url,
        STEAM_DIRECT: 'false',
        STEAM_PROXIES: proxy.url(),
        STEAM_MAX_ATTEMPTS: '1',
        STEAM_COOLDOWN_MS: '300',
        NODE_EXTRA_CA_CERTS: tls.caPath,
        LOG_LEVEL: 'trace',
      });
    });

    const egressHealth = async () => {
      const body = (await (await fetch(`${worker.url}/health`)).json()) as {
        details: Record<string, EgressHealth>;
      };
      return Object.fromEntries(Object.entries(body.details).filter(([key]) => key.startsWith('egress:')));
    };

    it('fetches from an https store through the proxy CONNECT tunnel, with the credentials of its URL', async () => {
      const { steam, backend } = world.standIns;
      const before = steam.requests.length;
      const tlsBefore = tls.requests.length;
      const appIds = [30, 620];

      world.publishTask('apps.fetch', { taskId: 'tunnelled', appIds: [620, 30], countries: ['us', 'DE'] });
      const result = await resultOf('tunnelled');

      expect(result).toEqual({
        pattern: 'apps.fetch.done',
        data: { taskId: 'tunnelled', updated: appIds, failed: [] },
      });
      expect(['30/DE', '30/US', '620/DE', '620/US'].filter((pair) => !backend.stored.has(pair))).toEqual([]);
      // Every request went over TLS, through one of the proxy's tunnels.
      const overTls = tls.requests.slice(tlsBefore);
      expect(overTls).toHaveLength(4);
      expect(overTls.map((request) => request.egress)).toEqual(['tunnel', 'tunnel', 'tunnel', 'tunnel']);
      const requests = steam.requests.slice(before);
      expect(requests.map(egressOf)).toEqual(['tunnel', 'tunnel', 'tunnel', 'tunnel']);
      expect(proxy.counts.tunnels).toBeGreaterThanOrEqual(1);
      expect(proxy.counts.forwarded).toBe(0);
      expect(proxy.counts.authRefused).toBe(0);
      expect(await egressHealth()).toEqual({
        [`egress:${proxy.label}`]: { status: 'up', state: 'ready', ...BUDGETS_READY },
      });
    });

    it('treats a CONNECT the proxy answers with 502 as a proxy failure: failing, waiting, no attempt spent', async () => {
      const tlsBefore = tls.requests.length;
      proxy.answerStatus(502);
      try {
        world.publishTask('app.fetch', { taskId: 'bad-gateway', appId: 440, country: 'GB' });
        await waitFor(() => proxy.counts.answered >= 1, 10_000, 'a refused CONNECT');
        const failing = await waitFor(
          async () => {
            const state = (await egressHealth())[`egress:${proxy.label}`];
            return state?.state === 'failing' ? state : undefined;
          },
          5000,
          'the proxy failing',
        );
        expect(failing).toEqual({ status: 'up', state: 'failing', until: expect.any(String), ...BUDGETS_READY });
      } finally {
        proxy.answerStatus(undefined);
      }
      // STEAM_MAX_ATTEMPTS is 1: the request waited for the only egress and still had its attempt.
      const result = await resultOf('bad-gateway');

      expect(result).toEqual({
        pattern: 'app.fetch.done',
        data: { taskId: 'bad-gateway', updated: [440], failed: [] },
      });
      expect(tls.requests.slice(tlsBefore).map((request) => request.egress)).toEqual(['tunnel']);
      await waitFor(
        async () => (await egressHealth())[`egress:${proxy.label}`]?.state === 'ready',
        5000,
        'the proxy ready again',
      );
    });

    it('never prints the proxy password', () => {
      const basic = Buffer.from(`steam:${PASSWORD}`).toString('base64');

      expect(worker.output()).not.toBe('');
      expect(worker.output()).not.toContain(PASSWORD);
      expect(worker.output()).not.toContain(basic);
      expect(world.results.map((message) => JSON.stringify(message.body)).join('\n')).not.toContain(PASSWORD);
    });
  });

  describe('a lease left by a killed process', () => {
    const world = useWorld('egress-lease', () => ({ STEAM_TIMEOUT_MS: '1000', STEAM_EGRESS_CONCURRENCY: '1' }), {
      workers: 0,
    });

    it('expires STEAM_TIMEOUT_MS + 5 s after it was taken, and another instance then uses the egress', async () => {
      const { steam } = world.standIns;
      const appId = 777;
      let holding = true;
      // Steam holds the request of the killed process; the replacement gets its answer at once.
      steam.script = ({ appId: id }) =>
        id === appId && holding ? { status: 200, body: { [appId]: { success: false } }, delayMs: 60_000 } : undefined;
      try {
        const child = await world.spawn();
        const before = steam.requests.length;
        world.publishTask('app.fetch', { taskId: 'orphaned', appId, country: 'US' });
        await waitFor(() => steam.requests.length > before, 10_000, 'the held request');
        child.child.kill('SIGKILL');
        const killedAt = performance.now();
        holding = false;
        await child.exited;
        const lastHeld = steam.requests.at(-1)!.at;
        const afterKill = steam.requests.length;

        // In process, on the same queues and Redis prefix.
        await world.startWorker({ LOG_LEVEL: 'fatal' });
        await waitFor(() => steam.requests.length > afterKill, 15_000, 'the replacement request');
        const first = steam.requests[afterKill]!;

        expect(first.url.searchParams.get('appids')).toBe(String(appId));
        // The lease outlived its holder for STEAM_TIMEOUT_MS + 5 s (1 s + 5 s) after it
        // was taken (just before the held request arrived), and no longer.
        expect(first.at - lastHeld).toBeGreaterThanOrEqual(6000 - 500);
        expect(first.at - killedAt).toBeLessThanOrEqual(6000 + 2500);
        expect((await world.resultOf('orphaned')).body).toEqual({
          pattern: 'app.fetch.done',
          data: { taskId: 'orphaned', updated: [appId], failed: [] },
        });
      } finally {
        steam.script = undefined;
      }
    });
  });
});
