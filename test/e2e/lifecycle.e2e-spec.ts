import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { waitFor } from '../support/rmq';
import { isolatedNames, startStandIns, StandIns, testEnvironment, watchQueues } from '../support/worker.harness';
import { spawnWorker } from '../support/worker.process';

type Body = { pattern: string; data: { taskId: string; updated?: number[] } };

const built = existsSync(join(__dirname, '..', '..', 'dist', 'main.js'));

/** The built worker as a real process: configuration errors, signals, exit codes. */
describe.runIf(built)('steam-worker process lifecycle', () => {
  const names = isolatedNames('lifecycle');
  let standIns: StandIns;
  let queues: Awaited<ReturnType<typeof watchQueues>>;

  beforeAll(async () => {
    standIns = await startStandIns();
    queues = await watchQueues(names);
  });

  afterAll(async () => {
    await queues?.rabbit.deleteQueues(names.WORKER_QUEUE, `${names.WORKER_QUEUE}.dlq`, names.ORCHESTRATOR_QUEUE);
    await queues?.rabbit.close();
    await standIns?.stop();
  });

  const env = (extra: Record<string, string> = {}) => ({
    ...testEnvironment(standIns, names),
    HTTP_PORT: String(20000 + Math.floor(Math.random() * 20000)),
    HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...extra,
  });

  it.each([
    ['STEAM_RATE_LIMIT', 'forty-secret-value'],
    ['BACKEND_URL', 'not a url secret-value'],
    ['LOG_LEVEL', 'loud-secret-value'],
    ['STEAM_DIRECT', 'maybe-secret-value'],
    ['AUTH_CLIENT_SECRET', ''],
  ])('stops with exit code 1 and one line naming %s, never its value', async (variable, value) => {
    const worker = spawnWorker({ ...env(), [variable]: value });
    expect(await worker.exited).toBe(1);
    const lines = worker.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(variable);
    if (value) expect(worker.output()).not.toContain(value);
  });

  it('drains on SIGTERM: the task in flight finishes and is reported once, then exit code 0', async () => {
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const worker = spawnWorker(
      env({ HTTP_PORT: port, STEAM_RATE_LIMIT: '10', STEAM_RATE_WINDOW_MS: '1000', SHUTDOWN_GRACE_MS: '10000' }),
    );
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200,
      45_000,
      'ready',
    );
    const appIds = [1, 2, 3, 4, 5, 6, 7, 8];
    queues.rabbit.publish(names.WORKER_QUEUE, {
      pattern: 'apps.fetch',
      data: { taskId: 'drain', appIds, countries: ['US'] },
    });
    await waitFor(() => standIns.steam.appDetailsRequests.length >= 2, 10_000, 'the batch under way');
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    const results = queues.results.filter((m) => (m.body as Body).data.taskId === 'drain');
    expect(results).toHaveLength(1);
    expect((results[0]!.body as Body).data.updated).toEqual(appIds);
  });

  it('gives an unfinished task back to the queue on SIGTERM after the grace period, and exits 0', async () => {
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const worker = spawnWorker(
      env({ HTTP_PORT: port, STEAM_RATE_LIMIT: '2', STEAM_RATE_WINDOW_MS: '1000', SHUTDOWN_GRACE_MS: '1000' }),
    );
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200,
      45_000,
      'ready',
    );
    const appIds = Array.from({ length: 20 }, (_, i) => 200 + i);
    queues.rabbit.publish(names.WORKER_QUEUE, {
      pattern: 'apps.fetch',
      data: { taskId: 'requeue', appIds, countries: ['US'] },
    });
    await waitFor(
      () => standIns.steam.appDetailsRequests.some((r) => r.url.searchParams.get('appids') === '200'),
      10_000,
      'the batch under way',
    );
    const stoppedAt = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(1000 + 5000);
    expect(queues.results.filter((m) => (m.body as Body).data.taskId === 'requeue')).toHaveLength(0);
    // The task is back in the queue, not lost and not dead-lettered.
    const { messageCount } = await queues.rabbit.channel.checkQueue(names.WORKER_QUEUE);
    expect(messageCount).toBe(1);
    expect(queues.deadLetters).toHaveLength(0);
    await queues.rabbit.channel.purgeQueue(names.WORKER_QUEUE);
  });

  it.each<{ slow: string; extra: Record<string, string>; hold: () => void }>([
    {
      slow: 'Steam answers after 14 s',
      extra: { STEAM_TIMEOUT_MS: '20000' },
      hold: () => (standIns.steam.script = () => ({ status: 200, body: { 1: { success: false } }, delayMs: 14_000 })),
    },
    {
      slow: 'the backend answers after 14 s',
      extra: { BACKEND_TIMEOUT_MS: '20000' },
      hold: () => (standIns.backend.script = () => ({ status: 200, body: { stored: true }, delayMs: 14_000 })),
    },
  ])(
    'exits 0 within SHUTDOWN_GRACE_MS + 5 s of SIGTERM when $slow, the task back in the queue',
    async ({ extra, hold }) => {
      const port = String(20000 + Math.floor(Math.random() * 20000));
      const taskId = `bounded-${port}`;
      const worker = spawnWorker(env({ HTTP_PORT: port, SHUTDOWN_GRACE_MS: '3000', ...extra }));
      try {
        await waitFor(
          async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200,
          45_000,
          'ready',
        );
        hold();
        const requestsBefore = standIns.steam.requests.length + standIns.backend.requests.length;
        queues.rabbit.publish(names.WORKER_QUEUE, { pattern: 'app.fetch', data: { taskId, appId: 1, country: 'US' } });
        await waitFor(
          () =>
            standIns.steam.requests.length + standIns.backend.requests.length >
            requestsBefore + (extra.BACKEND_TIMEOUT_MS ? 1 : 0),
          10_000,
          'the slow call under way',
        );
        const stoppedAt = Date.now();
        worker.child.kill('SIGTERM');
        expect(await worker.exited).toBe(0);
        expect(Date.now() - stoppedAt).toBeLessThan(3000 + 5000);
        expect(queues.results.filter((m) => (m.body as Body).data.taskId === taskId)).toHaveLength(0);
        const { messageCount } = await queues.rabbit.channel.checkQueue(names.WORKER_QUEUE);
        expect(messageCount).toBe(1);
        await queues.rabbit.channel.purgeQueue(names.WORKER_QUEUE);
      } finally {
        standIns.steam.script = undefined;
        standIns.backend.script = undefined;
        worker.child.kill('SIGKILL');
      }
    },
  );
});
