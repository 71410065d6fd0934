import { afterAll, describe, expect, it } from 'vitest';

import { redisForSpec } from '../../../test/support/redis-for-spec';

import { ChangeWatermarkStore } from './change-watermark.store';

describe(ChangeWatermarkStore.name, () => {
  const spec = redisForSpec('watermark');
  const { config, inspect } = spec;
  const redis = spec.client;
  const store = new ChangeWatermarkStore(redis);

  afterAll(() => spec.close());

  it('has no watermark before any apps.changed completed', async () => {
    expect(await store.current()).toBeUndefined();
  });

  it('keeps the largest until offered, whatever the order tasks complete in', async () => {
    expect(await store.offer(1_745_000_200)).toBe(1_745_000_200);
    expect(await store.offer(1_745_000_100)).toBe(1_745_000_200);
    expect(await store.offer(1_745_000_300)).toBe(1_745_000_300);
    expect(await store.current()).toBe(1_745_000_300);
  });

  it('keeps it under REDIS_PREFIX, without expiry', async () => {
    const key = redis.key('apps-changed', 'watermark');
    expect(key).toBe(`${config.redis.prefix}:apps-changed:watermark`);
    expect(await inspect.get(key)).toBe('1745000300');
    expect(await inspect.ttl(key)).toBe(-1);
  });

  it('keeps the larger of many offers made at once', async () => {
    const offers = Array.from({ length: 50 }, (_, index) => 1_745_001_000 + ((index * 37) % 50));
    await Promise.all(offers.map((until) => store.offer(until)));
    expect(await store.current()).toBe(1_745_001_049);
  });
});
