import { Redis } from 'ioredis';

/** The Redis every drill shares (a drill's workers may reach it through a proxy of their own). */
export const SHARED_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * Removes every key under `prefix:` (a drill's REDIS_PREFIX: its Bull queue,
 * limiter and task state) from the shared Redis. Best effort: resolves with
 * how many keys went, and never throws, so that it can run in an `afterAll`
 * after a failed drill.
 */
export async function deleteRedisKeys(prefix: string, url = SHARED_REDIS_URL): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length > 0) deleted += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    /* best effort */
  } finally {
    redis.disconnect();
  }
  return deleted;
}
