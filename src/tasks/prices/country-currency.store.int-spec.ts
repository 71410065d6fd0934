import { afterAll, describe, expect, it } from 'vitest';

import { redisForSpec } from '../../../test/support/redis-for-spec';

import { CountryCurrencyStore, CURRENCY_TTL_S } from './country-currency.store';

describe(CountryCurrencyStore.name, () => {
  const spec = redisForSpec('currency');
  const { config, inspect } = spec;
  const redis = spec.client;
  const store = new CountryCurrencyStore(redis);

  afterAll(() => spec.close());

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
