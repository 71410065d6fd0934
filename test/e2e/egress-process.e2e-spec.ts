import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { egressOf, ForwardProxy } from '../support/forward-proxy';
import { FetchDone as Done, EgressHealth } from '../support/shapes';
import { waitFor } from '../support/rmq';
import { TlsSteam } from '../support/tls-steam';
import {
  isolatedNames,
  startStandIns,
  startTestWorker,
  StandIns,
  testEnvironment,
  TestWorker,
  watchQueues,
} from '../support/worker.harness';
import { spawnWorker, WorkerProcess } from '../support/worker.process';

const built = existsSync(join(__dirname, '..', '..', 'dist', 'main.js'));
const PASSWORD = 'Tunn3lS3cret-pw';

const randomPort = () => String(20000 + Math.floor(Math.random() * 20000));

/**
 * The egress pool in the built worker (`node dist/main.js`): an https Steam
 * reached through a proxy's CONNECT tunnel (trusted through
 * NODE_EXTRA_CA_CERTS), and the lease of a killed process expiring.
 */
describe.runIf(built)('Steam egress pool in a worker process', () => {
  let standIns: StandIns;
  const children: WorkerProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    standIns = await startStandIns();
  });

  afterAll(async () => {
    for (const child of children) if (child.child.exitCode === null) child.child.kill('SIGKILL');
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await standIns?.stop();
  });

  const spawn = (env: Record<string, string>) => {
    const worker = spawnWorker(env);
    children.push(worker);
    return worker;
  };

  const childEnv = (names: ReturnType<typeof isolatedNames>, extra: Record<string, string> = {}) => ({
    ...testEnvironment(standIns, names),
    HTTP_PORT: randomPort(),
    HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...extra,
  });

  const isolated = async (label: string) => {
    const names = isolatedNames(label);
    const queues = await watchQueues(names);
    cleanups.push(async () => {
      await queues.rabbit.deleteQueues(names.WORKER_QUEUE, `${names.WORKER_QUEUE}.dlq`, names.ORCHESTRATOR_QUEUE);
      await queues.rabbit.close();
    });
    const resultOf = async (taskId: string, timeoutMs = 30_000) =>
      (
        await waitFor(
          () => queues.results.find((message) => (message.body as Done).data.taskId === taskId),
          timeoutMs,
          `result of ${taskId}`,
        )
      ).body as Done;
    return { names, queues, resultOf };
  };

  const untilReady = (port: string) =>
    waitFor(
      async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200,
      45_000,
      'ready',
    );

  describe('an https Steam through a proxy with basic auth', () => {
    let proxy: ForwardProxy;
    let tls: TlsSteam;
    let worker: WorkerProcess;
    let port: string;
    let setup: Awaited<ReturnType<typeof isolated>>;

    beforeAll(async () => {
      setup = await isolated('egress-tls');
      proxy = await new ForwardProxy({ name: 'tunnel', auth: { user: 'steam', pass: PASSWORD } }).start();
      tls = await new TlsSteam(standIns.steam, [proxy]).start();
      cleanups.push(
        () => proxy.stop(),
        () => tls.stop(),
      );
      port = randomPort();
      worker = spawn(
        childEnv(setup.names, {
          HTTP_PORT: port,
          STEAM_STORE_URL: tls.url,
          STEAM_API_URL: tls.url,
          STEAM_DIRECT: 'false',
          STEAM_PROXIES: proxy.url(),
          STEAM_MAX_ATTEMPTS: '1',
          STEAM_COOLDOWN_MS: '300',
          NODE_EXTRA_CA_CERTS: tls.caPath,
          LOG_LEVEL: 'trace',
        }),
      );
      await untilReady(port);
    });

    const egressHealth = async () => {
      const body = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as {
        details: Record<string, EgressHealth>;
      };
      return Object.fromEntries(Object.entries(body.details).filter(([key]) => key.startsWith('egress:')));
    };

    it('fetches from an https store through the proxy CONNECT tunnel, with the credentials of its URL', async () => {
      const before = standIns.steam.requests.length;
      const tlsBefore = tls.requests.length;
      const appIds = [30, 620];

      setup.queues.rabbit.publish(setup.names.WORKER_QUEUE, {
        pattern: 'apps.fetch',
        data: { taskId: 'tunnelled', appIds: [620, 30], countries: ['us', 'DE'] },
      });
      const result = await setup.resultOf('tunnelled');

      expect(result).toEqual({
        pattern: 'apps.fetch.done',
        data: { taskId: 'tunnelled', updated: appIds, failed: [] },
      });
      expect(['30/DE', '30/US', '620/DE', '620/US'].filter((pair) => !standIns.backend.stored.has(pair))).toEqual([]);
      // Every request went over TLS, through one of the proxy's tunnels.
      const overTls = tls.requests.slice(tlsBefore);
      expect(overTls).toHaveLength(4);
      expect(overTls.map((request) => request.egress)).toEqual(['tunnel', 'tunnel', 'tunnel', 'tunnel']);
      const requests = standIns.steam.requests.slice(before);
      expect(requests.map(egressOf)).toEqual(['tunnel', 'tunnel', 'tunnel', 'tunnel']);
      expect(proxy.counts.tunnels).toBeGreaterThanOrEqual(1);
      expect(proxy.counts.forwarded).toBe(0);
      expect(proxy.counts.authRefused).toBe(0);
      expect(await egressHealth()).toEqual({ [`egress:${proxy.label}`]: { status: 'up', state: 'ready' } });
    });

    it('treats a CONNECT the proxy answers with 502 as a proxy failure: failing, waiting, no attempt spent', async () => {
      const tlsBefore = tls.requests.length;
      proxy.answerStatus(502);
      try {
        setup.queues.rabbit.publish(setup.names.WORKER_QUEUE, {
          pattern: 'app.fetch',
          data: { taskId: 'bad-gateway', appId: 440, country: 'GB' },
        });
        await waitFor(() => proxy.counts.answered >= 1, 10_000, 'a refused CONNECT');
        const failing = await waitFor(
          async () => {
            const state = (await egressHealth())[`egress:${proxy.label}`];
            return state?.state === 'failing' ? state : undefined;
          },
          5000,
          'the proxy failing',
        );
        expect(failing).toEqual({ status: 'up', state: 'failing', until: expect.any(String) });
      } finally {
        proxy.answerStatus(undefined);
      }
      // STEAM_MAX_ATTEMPTS is 1: the request waited for the only egress and still had its attempt.
      const result = await setup.resultOf('bad-gateway');

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
      expect(setup.queues.results.map((message) => JSON.stringify(message.body)).join('\n')).not.toContain(PASSWORD);
    });
  });

  describe('a lease left by a killed process', () => {
    let replacement: TestWorker | undefined;

    afterAll(async () => {
      await replacement?.close();
    });

    it('expires STEAM_TIMEOUT_MS + 5 s after it was taken, and another instance then uses the egress', async () => {
      const { names, resultOf, queues } = await isolated('egress-lease');
      const env = { ...childEnv(names), STEAM_TIMEOUT_MS: '1000', STEAM_EGRESS_CONCURRENCY: '1' };
      const appId = 777;
      let holding = true;
      // Steam holds the request of the killed process; the replacement gets its answer at once.
      standIns.steam.script = ({ appId: id }) =>
        id === appId && holding ? { status: 200, body: { [appId]: { success: false } }, delayMs: 60_000 } : undefined;
      try {
        const child = spawn(env);
        await untilReady(env.HTTP_PORT);
        const before = standIns.steam.requests.length;
        queues.rabbit.publish(names.WORKER_QUEUE, {
          pattern: 'app.fetch',
          data: { taskId: 'orphaned', appId, country: 'US' },
        });
        await waitFor(() => standIns.steam.requests.length > before, 10_000, 'the held request');
        child.child.kill('SIGKILL');
        const killedAt = performance.now();
        holding = false;
        await child.exited;
        const lastHeld = standIns.steam.requests.at(-1)!.at;
        const afterKill = standIns.steam.requests.length;

        replacement = await startTestWorker({ ...env, LOG_LEVEL: 'fatal' });
        await waitFor(() => standIns.steam.requests.length > afterKill, 15_000, 'the replacement request');
        const first = standIns.steam.requests[afterKill]!;

        expect(first.url.searchParams.get('appids')).toBe(String(appId));
        // The lease outlived its holder for STEAM_TIMEOUT_MS + 5 s (1 s + 5 s) after it
        // was taken (just before the held request arrived), and no longer.
        expect(first.at - lastHeld).toBeGreaterThanOrEqual(6000 - 500);
        expect(first.at - killedAt).toBeLessThanOrEqual(6000 + 2500);
        expect(await resultOf('orphaned')).toEqual({
          pattern: 'app.fetch.done',
          data: { taskId: 'orphaned', updated: [appId], failed: [] },
        });
      } finally {
        standIns.steam.script = undefined;
      }
    });
  });
});
