import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';

import type { WorkerConfig } from '../../src/config/worker-config';
import { RedisClient } from '../../src/redis/redis.module';

/**
 * The worker's RedisClient against the local Redis, under a prefix of the
 * spec's own, and a client of the spec's own to look at what was written.
 * `close()` removes every key under the prefix and closes both.
 */
export function redisForSpec(label: string, redis: Partial<WorkerConfig['redis']> = {}) {
  const config = {
    redis: {
      url: 'redis://127.0.0.1:6379',
      prefix: `test:${label}-${randomUUID().slice(0, 8)}`,
      taskStateTtlS: 60,
      ...redis,
    },
  } as WorkerConfig;
  const client = new RedisClient(config);
  const inspect = new Redis(config.redis.url);
  return {
    config,
    client,
    inspect,
    async close(): Promise<void> {
      const keys = await inspect.keys(client.key('*'));
      if (keys.length > 0) await inspect.del(...keys);
      await client.onApplicationShutdown();
      inspect.disconnect();
    },
  };
}
