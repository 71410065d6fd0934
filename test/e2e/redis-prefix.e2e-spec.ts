import Redis from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';

import { RedisServer } from '../support/redis-server';
import { waitFor } from '../support/rmq';
import { useWorld } from '../support/vitest-world';

/**
 * A Redis server of this file's own, so that every key and pub/sub channel on
 * it is the worker's: all of them must live under REDIS_PREFIX, in the
 * database REDIS_URL names.
 */
describe('Redis keys and channels under REDIS_PREFIX', () => {
  const redisServer = new RedisServer();
  let redis: Redis;
  const world = useWorld('prefix', () => ({ REDIS_URL: redisServer.url(3) }), {
    setUp: () => redisServer.start(),
    tearDown: async () => {
      redis?.disconnect();
      await redisServer.kill();
    },
  });
  const { names } = world;

  beforeAll(() => {
    redis = new Redis(redisServer.url(0), { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
  });

  it('keeps every key and channel of a batch under the prefix, in the database of REDIS_URL', async () => {
    world.publishTask('apps.fetch', { taskId: 'prefixed', appIds: [1, 2, 3], countries: ['US', 'DE'] });
    await waitFor(() => world.results.length === 1, 20_000, 'the result');
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
