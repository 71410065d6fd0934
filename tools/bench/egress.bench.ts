import { Redis } from 'ioredis';

import type { WorkerConfig } from '../../src/config/worker-config';
import { RedisClient } from '../../src/redis/redis.module';

import { SteamRequestQueue } from '../../src/steam/steam-request.queue';
import { TaskProgressStore } from '../../src/tasks/progress/task-progress.store';
import { ForwardProxy } from '../../test/support/forward-proxy';
import { isolatedNames, startStandIns, startTestWorker, testEnvironment } from '../../test/support/worker.harness';
import { fixed, Row, whole } from './report';

export const EGRESS = { limit: 10, windowMs: 1000, windowsPerRun: 3, egressCounts: [1, 2, 4] };

/**
 * Throughput of the egress pool: with N proxies (STEAM_DIRECT=false), each
 * with its own limit L per W, N × L / W requests a second is the ideal.
 */
export async function egressBench(progress: (line: string) => void): Promise<Row[]> {
  const rows: Row[] = [];
  for (const count of EGRESS.egressCounts) {
    const ratio = await throughputWith(count);
    progress(`egress pool with ${count} proxies: ${fixed(ratio)} of ideal`);
    rows.push({
      part: '(d)',
      measure: `throughput, ${count} egress${count > 1 ? 'es' : ''}`,
      worker: `${fixed(ratio)} of ideal`,
      comparison: `ideal ${count * EGRESS.limit} req/s (N × L / W), ${count * EGRESS.limit * EGRESS.windowsPerRun} requests`,
      target: '>= 0.95',
      ok: ratio >= 0.95,
    });
  }
  rows.push(await taskStateSize());
  return rows;
}

async function throughputWith(count: number): Promise<number> {
  const standIns = await startStandIns();
  const proxies = await Promise.all(
    Array.from({ length: count }, (_, i) => new ForwardProxy({ name: `proxy-${i + 1}` }).start()),
  );
  const names = isolatedNames(`bench-egress-${count}`);
  const worker = await startTestWorker({
    ...testEnvironment(standIns, names),
    LOG_LEVEL: 'fatal',
    STEAM_DIRECT: 'false',
    STEAM_PROXIES: proxies.map((proxy) => proxy.url()).join(','),
    STEAM_RATE_LIMIT: String(EGRESS.limit),
    STEAM_RATE_WINDOW_MS: String(EGRESS.windowMs),
    // The production default (2 % of W), not the tests' wider margin.
    STEAM_RATE_MARGIN_MS: '',
  });
  try {
    const steam = worker.app.get(SteamRequestQueue);
    const requests = count * EGRESS.limit * EGRESS.windowsPerRun;
    await Promise.all(
      Array.from({ length: requests }, (_, i) => steam.request({ kind: 'appdetails', appId: 1 + i, country: 'US' })),
    );
    // Each egress carries n/N requests spaced W/L apart at best, side by side.
    const times = standIns.steam.arrivalTimes.sort((a, b) => a - b);
    const idealMs = (requests / count - 1) * (EGRESS.windowMs / EGRESS.limit);
    return idealMs / (times.at(-1)! - times[0]!);
  } finally {
    await worker.close();
    await Promise.all([...proxies.map((proxy) => proxy.stop()), standIns.stop()]);
    await removeKeys(names.REDIS_PREFIX);
  }
}

/** What the resume state of a 10,000 × 50 batch takes in Redis (docs/contract.md#resuming). */
async function taskStateSize(): Promise<Row> {
  const prefix = `bench-task-state-${process.pid}`;
  const config = { redis: { url: 'redis://127.0.0.1:6379', prefix, taskStateTtlS: 600 } };
  const redis = new Redis(config.redis.url);
  const client = new RedisClient(config as WorkerConfig);
  try {
    const store = new TaskProgressStore(client, config as WorkerConfig);
    const appIds = Array.from({ length: 10_000 }, (_, i) => i + 1);
    const countries = Array.from({ length: 50 }, (_, i) => `C${i}`);
    const progress = await store.open('bench', appIds, countries);
    // The bitmap's size is set by its highest pair; mark the last one.
    await progress.markAccepted(appIds.length * countries.length - 1);
    const bytes = Number(await redis.memory('USAGE', client.key('task', 'bench', 'accepted')));
    return {
      part: '(e)',
      measure: 'task state, 10,000 × 50 batch',
      worker: `${whole(bytes)} B in Redis`,
      comparison: '500,000 pairs, 1 bit each',
      target: 'tens of KB',
      ok: bytes < 100_000,
    };
  } finally {
    await removeKeys(prefix, redis);
    redis.disconnect();
    await client.onApplicationShutdown();
  }
}

async function removeKeys(prefix: string, client?: Redis): Promise<void> {
  const redis = client ?? new Redis('redis://127.0.0.1:6379');
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  if (!client) redis.disconnect();
}
