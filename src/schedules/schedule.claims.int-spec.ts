import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

import type { WorkerConfig } from '../config/worker-config';
import { RedisClient } from '../redis/redis.module';
import { CLAIM_TTL_S, ScheduleClaims } from './schedule.claims';

const TICK = Date.UTC(2026, 10, 29, 18, 5);

describe(ScheduleClaims.name, () => {
  const config = {
    redis: { url: 'redis://127.0.0.1:6379', prefix: `test:claims-${randomUUID().slice(0, 8)}`, taskStateTtlS: 60 },
  } as WorkerConfig;
  const redis = new RedisClient(config);
  /** Three processes: claims of their own, one Redis. */
  const processes = [new ScheduleClaims(redis), new ScheduleClaims(redis), new ScheduleClaims(redis)];
  const inspect = new Redis(config.redis.url);

  afterAll(async () => {
    const keys = await inspect.keys(redis.key('*'));
    if (keys.length > 0) await inspect.del(...keys);
    await redis.onApplicationShutdown();
    inspect.disconnect();
  });

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
