import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

import type { WorkerConfig } from '../../config/worker-config';
import { RedisClient } from '../../redis/redis.module';
import { CountryCurrencyStore, CURRENCY_TTL_S } from './country-currency.store';

describe(CountryCurrencyStore.name, () => {
  const config = { redis: { url: 'redis://127.0.0.1:6379', prefix: `test:currency-${randomUUID().slice(0, 8)}` } };
  const redis = new RedisClient(config as WorkerConfig);
  const store = new CountryCurrencyStore(redis);
  /** A client of the test's own, to look at what the store wrote. */
  const inspect = new Redis(config.redis.url);

  afterAll(async () => {
    const keys = await inspect.keys(redis.key('*'));
    if (keys.length > 0) await inspect.del(...keys);
    await redis.onApplicationShutdown();
    inspect.disconnect();
  });

  it('knows no currency for a country nobody learned', async () => {
    expect(await store.known('PL')).toBeUndefined();
  });

  it('remembers a learned currency under REDIS_PREFIX for a day, for every process', async () => {
    await store.remember('JP', 'JPY');

    const another = new CountryCurrencyStore(redis);
    expect(await another.known('JP')).toBe('JPY');
    const ttl = await inspect.ttl(`${config.redis.prefix}:currency:JP`);
    expect(ttl).toBeGreaterThan(CURRENCY_TTL_S - 60);
    expect(ttl).toBeLessThanOrEqual(CURRENCY_TTL_S);
  });
});
