import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { waitFor } from '../support/rmq';
import {
  isolatedNames,
  startStandIns,
  startTestWorker,
  StandIns,
  testEnvironment,
  TestWorker,
  watchQueues,
} from '../support/worker.harness';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A Redis server of this file's own, so that every key and pub/sub channel on
 * it is the worker's: all of them must live under REDIS_PREFIX, in the
 * database REDIS_URL names.
 */
describe('Redis keys and channels under REDIS_PREFIX', () => {
  const names = isolatedNames('prefix');
  let redisServer: ChildProcess;
  let redis: Redis;
  let standIns: StandIns;
  let worker: TestWorker;
  let queues: Awaited<ReturnType<typeof watchQueues>>;

  beforeAll(async () => {
    const port = await freePort();
    redisServer = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    redis = await waitFor(
      async () => {
        const client = new Redis(`redis://127.0.0.1:${port}/0`, { lazyConnect: true, retryStrategy: () => null });
        client.on('error', () => undefined);
        return client.connect().then(
          () => client,
          () => undefined,
        );
      },
      10_000,
      'the private redis-server',
    );
    standIns = await startStandIns();
    worker = await startTestWorker({ ...testEnvironment(standIns, names), REDIS_URL: `redis://127.0.0.1:${port}/3` });
    queues = await watchQueues(names);
    await waitFor(async () => (await fetch(`${worker.url}/health/ready`)).status === 200, 20_000, 'readiness');
  });

  afterAll(async () => {
    await worker?.close();
    await queues?.rabbit.deleteQueues(names.WORKER_QUEUE, `${names.WORKER_QUEUE}.dlq`, names.ORCHESTRATOR_QUEUE);
    await queues?.rabbit.close();
    await standIns?.stop();
    redis?.disconnect();
    redisServer?.kill('SIGKILL');
  });

  it('keeps every key and channel of a batch under the prefix, in the database of REDIS_URL', async () => {
    queues.rabbit.publish(names.WORKER_QUEUE, {
      pattern: 'apps.fetch',
      data: { taskId: 'prefixed', appIds: [1, 2, 3], countries: ['US', 'DE'] },
    });
    await waitFor(() => queues.results.length === 1, 20_000, 'the result');
    const channels = (await redis.pubsub('CHANNELS', '*')) as string[];
    expect(channels.length).toBeGreaterThan(0);
    for (const channel of channels) expect(channel.startsWith(`${names.REDIS_PREFIX}:`)).toBe(true);
    expect(await redis.dbsize()).toBe(0);
    await redis.select(3);
    const keys = await redis.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key.startsWith(`${names.REDIS_PREFIX}:`)).toBe(true);
  });
});
