import { Redis } from 'ioredis';

export const REDIS_URL = 'redis://127.0.0.1:6379';

/** Every key under `prefix:` (SCAN, never KEYS: the Redis server is shared). */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [nextCursor, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = nextCursor;
  } while (cursor !== '0');
  return keys;
}

/** Deletes every key under `prefix:`; returns how many there were. */
export async function deleteKeysUnder(redis: Redis, prefix: string): Promise<number> {
  const keys = await keysUnder(redis, prefix);
  for (let start = 0; start < keys.length; start += 500) await redis.unlink(...keys.slice(start, start + 500));
  return keys.length;
}

/** Bytes Redis holds for the keys under `prefix:` (MEMORY USAGE of each). */
export async function memoryUnder(redis: Redis, prefix: string): Promise<number> {
  const keys = await keysUnder(redis, prefix);
  if (keys.length === 0) return 0;
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', 0);
  const answers = (await pipeline.exec()) ?? [];
  return answers.reduce((sum, [, bytes]) => sum + (Number(bytes) || 0), 0);
}

/** The server's `used_memory` (all clients, all databases). */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
}

/** Jobs of a Bull queue that are not finished yet: waiting, active and delayed. */
export async function unfinishedJobs(redis: Redis, prefix: string, queue: string): Promise<number> {
  const base = `${prefix}:${queue}`;
  const [[, waiting], [, active], [, delayed]] = (await redis
    .pipeline()
    .llen(`${base}:wait`)
    .llen(`${base}:active`)
    .zcard(`${base}:delayed`)
    .exec()) as [unknown, number][];
  return Number(waiting) + Number(active) + Number(delayed);
}
