import { describe, expect, it } from 'vitest';

import { RabbitProbe, waitFor } from '../support/rmq';
import { range, sleep, waitReady } from '../support/shapes';
import { TcpProxy } from '../support/tcp-proxy';
import { useWorld } from '../support/vitest-world';

/** RabbitMQ and Redis reach this worker through proxies the test can cut. */
describe('steam-worker under broker and Redis faults', () => {
  const rabbitProxy = new TcpProxy('127.0.0.1', 5672);
  const redisProxy = new TcpProxy('127.0.0.1', 6379);
  const world = useWorld(
    'resilience',
    () => ({
      RABBITMQ_URL: `amqp://guest:guest@127.0.0.1:${rabbitProxy.port}`,
      REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
      STEAM_RATE_LIMIT: '10',
      STEAM_RATE_WINDOW_MS: '1000',
    }),
    {
      setUp: () => Promise.all([rabbitProxy.start(), redisProxy.start()]),
      tearDown: () => Promise.all([rabbitProxy.stop(), redisProxy.stop()]),
    },
  );
  const { names } = world;

  const status = async (path: string) => (await fetch(`${world.worker.url}${path}`)).status;
  /** Waits until the worker is ready again after an outage. */
  const readyAgain = () => waitReady(world.worker.url, 15_000, 'ready again');
  /** Consumers on `queue`, 0 while it does not exist (checked on a throwaway channel). */
  const consumersOf = async (queue: string) => {
    const probe = await RabbitProbe.connect();
    try {
      return (await probe.channel.checkQueue(queue)).consumerCount;
    } catch {
      return 0;
    } finally {
      await probe.close();
    }
  };
  const { resultsFor } = world;

  it('turns not ready during a RabbitMQ outage, stays live, and recovers by itself', async () => {
    await rabbitProxy.cut();
    await waitFor(async () => (await status('/health/ready')) === 503, 15_000, 'not ready');
    expect(await status('/health')).toBe(200);
    await rabbitProxy.restore();
    await readyAgain();
    world.publishTask('app.fetch', { taskId: 'after-rabbit', appId: 11, country: 'US' });
    await waitFor(() => resultsFor('after-rabbit').length === 1, 15_000, 'a task after the outage');
  });

  it('turns not ready during a Redis outage, stays live, and completes a task published meanwhile', async () => {
    await redisProxy.cut();
    await waitFor(async () => (await status('/health/ready')) === 503, 15_000, 'not ready');
    expect(await status('/health')).toBe(200);
    world.publishTask('app.fetch', { taskId: 'during-redis', appId: 12, country: 'US' });
    await sleep(1000);
    await redisProxy.restore();
    await readyAgain();
    await waitFor(() => resultsFor('during-redis').length === 1, 30_000, 'the task published during the outage');
    expect(resultsFor('during-redis')[0]!.body).toMatchObject({ pattern: 'app.fetch.done', data: { updated: [12] } });
  });

  it('reports a batch once when its connection is lost mid-batch', async () => {
    const appIds = range(100, 15);
    world.publishTask('apps.fetch', { taskId: 'cut-batch', appIds, countries: ['US'] });
    await waitFor(() => world.standIns.steam.appDetailsFor(104).length > 0, 15_000, 'batch under way');
    await rabbitProxy.cut();
    await sleep(500);
    await rabbitProxy.restore();
    await waitFor(() => resultsFor('cut-batch').length >= 1, 30_000, 'the batch result');
    await sleep(1500);
    expect(resultsFor('cut-batch')).toHaveLength(1);
    expect(resultsFor('cut-batch')[0]!.body).toEqual({
      pattern: 'apps.fetch.done',
      data: { taskId: 'cut-batch', updated: appIds, failed: [] },
    });
  });

  it('consumes again when the broker cancels its consumer (queue deleted)', async () => {
    await world.rabbit.channel.deleteQueue(names.WORKER_QUEUE);
    await waitFor(async () => (await consumersOf(names.WORKER_QUEUE)) === 1, 15_000, 'a new consumer');
    world.publishTask('app.fetch', { taskId: 'after-cancel', appId: 13, country: 'US' });
    await waitFor(() => resultsFor('after-cancel').length === 1, 15_000, 'a task after the cancel');
  });

  it('fails liveness while connected without a consumer, and recovers when it can consume again', async () => {
    // The queue comes back with other arguments: the worker's declaration is
    // refused, so it cannot consume although its connection is fine.
    const saboteur = await RabbitProbe.connect();
    await saboteur.channel.deleteQueue(names.WORKER_QUEUE);
    await saboteur.channel.assertQueue(names.WORKER_QUEUE, { durable: true });
    await waitFor(async () => (await status('/health')) === 503, 15_000, 'liveness failing');
    await saboteur.channel.deleteQueue(names.WORKER_QUEUE);
    await saboteur.close();
    await waitFor(async () => (await status('/health')) === 200, 15_000, 'liveness back');
    await readyAgain();
  });
});
