import { afterAll, describe, expect, it } from 'vitest';

import { redisForSpec } from '../../../test/support/redis-for-spec';

import { TaskProgressStore } from './task-progress.store';

describe(TaskProgressStore.name, () => {
  const spec = redisForSpec('progress', { taskStateTtlS: 3600 });
  const { config, inspect } = spec;
  const redis = spec.client;
  const store = new TaskProgressStore(redis, config);

  afterAll(() => spec.close());

  it('remembers accepted pairs across deliveries of the same task', async () => {
    const first = await store.open('t-1', [10, 20], ['DE', 'US']);
    expect(first.acceptedBefore).toBe(0);
    await first.markAccepted(0);
    await first.markAccepted(3);
    const again = await store.open('t-1', [10, 20], ['DE', 'US']);
    expect([0, 1, 2, 3].map((pair) => again.wasAccepted(pair))).toEqual([true, false, false, true]);
    expect(again.acceptedBefore).toBe(2);
  });

  it('starts afresh when the same taskId names another batch', async () => {
    const first = await store.open('t-2', [10], ['DE']);
    await first.markAccepted(0);
    const other = await store.open('t-2', [10, 11], ['DE']);
    expect(other.wasAccepted(0)).toBe(false);
  });

  it('starts afresh when the same taskId and lists come back as a price task', async () => {
    const details = await store.open('t-5', [10], ['DE']);
    await details.markAccepted(0);
    const prices = await store.open('t-5', [10], ['DE'], 'prices');
    expect(prices.wasAccepted(0)).toBe(false);
    await prices.markAccepted(0);
    expect((await store.open('t-5', [10], ['DE'], 'prices')).wasAccepted(0)).toBe(true);
  });

  it('keeps its state for TASK_STATE_TTL_S after the last write', async () => {
    const progress = await store.open('t-3', [10], ['DE']);
    await progress.markAccepted(0);
    const ttl = await inspect.ttl(redis.key('task', 't-3', 'accepted'));
    expect(ttl).toBeGreaterThan(3500);
    expect(ttl).toBeLessThanOrEqual(3600);
    expect(await inspect.ttl(redis.key('task', 't-3', 'shape'))).toBeGreaterThan(3500);
  });

  it('stores a 10,000 × 50 batch in about one bit per pair', async () => {
    const appIds = Array.from({ length: 10_000 }, (_, i) => i + 1);
    const countries = Array.from({ length: 50 }, (_, i) => `C${i}`);
    const progress = await store.open('t-4', appIds, countries);
    await progress.markAccepted(10_000 * 50 - 1);
    const bytes = await inspect.strlen(redis.key('task', 't-4', 'accepted'));
    expect(bytes).toBe(62_500);
  });
});
