import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { waitFor } from '../support/rmq';
import { bodyOf, range } from '../support/shapes';
import { useWorld } from '../support/vitest-world';

const built = existsSync(join(__dirname, '..', '..', 'dist', 'main.js'));

/** The built worker as a real process: configuration errors, signals, exit codes. */
describe.runIf(built)('steam-worker process lifecycle', () => {
  const world = useWorld('lifecycle', undefined, { workers: 0 });
  const { names } = world;
  /** The task is back in the task queue, ready; the queue is then emptied for the next test. */
  const expectTaskBackInQueue = async () => {
    const { messageCount } = await world.rabbit.channel.checkQueue(names.WORKER_QUEUE);
    expect(messageCount).toBe(1);
    await world.rabbit.channel.purgeQueue(names.WORKER_QUEUE);
  };

  it.each([
    ['STEAM_RATE_LIMIT', 'forty-secret-value'],
    ['BACKEND_URL', 'not a url secret-value'],
    ['LOG_LEVEL', 'loud-secret-value'],
    ['STEAM_DIRECT', 'maybe-secret-value'],
    ['AUTH_CLIENT_SECRET', ''],
  ])('stops with exit code 1 and one line naming %s, never its value', async (variable, value) => {
    const worker = await world.spawn({ [variable]: value }, { waitReady: false });
    expect(await worker.exited).toBe(1);
    const lines = worker.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(variable);
    if (value) expect(worker.output()).not.toContain(value);
  });

  /** A built worker with `extra`, once it is working on the batch `taskId` of `appIds` in the US (`underWay`). */
  async function workerOnBatch(
    extra: Record<string, string>,
    { taskId, appIds }: { taskId: string; appIds: number[] },
    underWay: () => boolean,
  ) {
    const worker = await world.spawn(extra);
    world.publishTask('apps.fetch', { taskId, appIds, countries: ['US'] });
    await waitFor(underWay, 10_000, 'the batch under way');
    return worker;
  }

  it('drains on SIGTERM: the task in flight finishes and is reported once, then exit code 0', async () => {
    const appIds = range(1, 8);
    const worker = await workerOnBatch(
      { STEAM_RATE_LIMIT: '10', STEAM_RATE_WINDOW_MS: '1000', SHUTDOWN_GRACE_MS: '10000' },
      { taskId: 'drain', appIds },
      () => world.standIns.steam.appDetailsRequests.length >= 2,
    );
    expect(await worker.stop('SIGTERM')).toBe(0);
    const results = world.resultsFor('drain');
    expect(results).toHaveLength(1);
    expect(bodyOf(results[0]!).data.updated).toEqual(appIds);
  });

  it('gives an unfinished task back to the queue on SIGTERM after the grace period, and exits 0', async () => {
    const worker = await workerOnBatch(
      { STEAM_RATE_LIMIT: '2', STEAM_RATE_WINDOW_MS: '1000', SHUTDOWN_GRACE_MS: '1000' },
      { taskId: 'requeue', appIds: range(200, 20) },
      () => world.standIns.steam.appDetailsFor(200).length > 0,
    );
    const stoppedAt = Date.now();
    expect(await worker.stop('SIGTERM')).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(1000 + 5000);
    expect(world.resultsFor('requeue')).toHaveLength(0);
    // The task is back in the queue, not lost and not dead-lettered.
    expect(world.deadLetters).toHaveLength(0);
    await expectTaskBackInQueue();
  });

  it.each<{ slow: string; extra: Record<string, string>; hold: () => void }>([
    {
      slow: 'Steam answers after 14 s',
      extra: { STEAM_TIMEOUT_MS: '20000' },
      hold: () =>
        (world.standIns.steam.script = () => ({ status: 200, body: { 1: { success: false } }, delayMs: 14_000 })),
    },
    {
      slow: 'the backend answers after 14 s',
      extra: { BACKEND_TIMEOUT_MS: '20000' },
      hold: () => (world.standIns.backend.script = () => ({ status: 200, body: { stored: true }, delayMs: 14_000 })),
    },
  ])(
    'exits 0 within SHUTDOWN_GRACE_MS + 5 s of SIGTERM when $slow, the task back in the queue',
    async ({ extra, hold }) => {
      const { steam, backend } = world.standIns;
      const worker = await world.spawn({ SHUTDOWN_GRACE_MS: '3000', ...extra });
      const taskId = `bounded-${worker.port}`;
      try {
        hold();
        const requestsBefore = steam.requests.length + backend.requests.length;
        world.publishTask('app.fetch', { taskId, appId: 1, country: 'US' });
        await waitFor(
          () => steam.requests.length + backend.requests.length > requestsBefore + (extra.BACKEND_TIMEOUT_MS ? 1 : 0),
          10_000,
          'the slow call under way',
        );
        const stoppedAt = Date.now();
        expect(await worker.stop('SIGTERM')).toBe(0);
        expect(Date.now() - stoppedAt).toBeLessThan(3000 + 5000);
        expect(world.resultsFor(taskId)).toHaveLength(0);
        await expectTaskBackInQueue();
      } finally {
        steam.script = undefined;
        backend.script = undefined;
        worker.child.kill('SIGKILL');
      }
    },
  );
});
