import { afterAll, describe, expect, it } from 'vitest';

import { redisForSpec } from '../../test/support/redis-for-spec';

import { CLAIM_TTL_S, ScheduleClaims } from './schedule.claims';

const TICK = Date.UTC(2026, 10, 29, 18, 5);

describe(ScheduleClaims.name, () => {
  const spec = redisForSpec('claims');
  const { config, inspect } = spec;
  const redis = spec.client;
  /** Three processes: claims of their own, one Redis. */
  const processes = [new ScheduleClaims(redis), new ScheduleClaims(redis), new ScheduleClaims(redis)];

  afterAll(() => spec.close());

  it('gives a tick to exactly one of the processes that claim it at once', async () => {
    const got = await Promise.all(processes.map((claims) => claims.claim('daily', TICK)));
    expect(got.filter(Boolean)).toHaveLength(1);
  });

  it('gives the holder its tick again, and nobody else', async () => {
    const got = await Promise.all(processes.map((claims) => claims.claim('daily', TICK)));
    const holder = got.indexOf(true);
    expect(holder).toBeGreaterThanOrEqual(0);
    expect(await processes[holder]!.claim('daily', TICK)).toBe(true);
    expect(got.filter(Boolean)).toHaveLength(1);
  });

  it('claims each tick and each schedule on its own', async () => {
    expect(await processes[0]!.claim('daily', TICK + 60_000)).toBe(true);
    expect(await processes[1]!.claim('hourly', TICK)).toBe(true);
  });

  it('keeps a claim under REDIS_PREFIX for CLAIM_TTL_S', async () => {
    const key = `${config.redis.prefix}:schedule:daily:2026-11-29T18:05:00Z`;
    expect(await inspect.exists(key)).toBe(1);
    const ttl = await inspect.ttl(key);
    expect(ttl).toBeGreaterThan(CLAIM_TTL_S - 10);
    expect(ttl).toBeLessThanOrEqual(CLAIM_TTL_S);
  });
});
