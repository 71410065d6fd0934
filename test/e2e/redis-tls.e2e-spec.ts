import Redis from 'ioredis';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { STEAM_QUEUES } from '../../src/steam/steam-queue.constants';

import { waitFor } from '../support/rmq';
import { TlsRedisServer } from '../support/tls-redis';
import { useWorld } from '../support/vitest-world';
import { SHARED_REDIS_URL } from '../support/worker.harness';
import { ChildWorker } from '../support/worker.process';

const built = existsSync(join(__dirname, '..', '..', 'dist', 'main.js'));
/** The database REDIS_URL names: it must survive the move to TLS too. */
const DB = 2;
/** Bull's names for the blocking clients of the Steam queues (one per budget): `<prefix>:<base64 of the queue name>`. */
const bullWorkerNames = (prefix: string) =>
  Object.values(STEAM_QUEUES).map((queue) => `${prefix}:${Buffer.from(queue).toString('base64')}`);

/**
 * REDIS_URL=rediss://… (docs/contract.md#configuration) in the built worker: every Redis
 * connection, Bull's included, speaks TLS. The Redis here listens on a
 * TLS port only, so a connection that is not TLS gets nowhere (and leaves a
 * failed handshake in the server's log). The worker trusts the throwaway CA
 * through NODE_EXTRA_CA_CERTS, read at process start, hence a child process.
 */
describe.runIf(built)('REDIS_URL rediss:// in a worker process', () => {
  let redis: TlsRedisServer;
  let worker: ChildWorker;
  // The worker's REDIS_URL is given to its process alone: this file cannot speak to the TLS port
  // without the CA, and the server goes with every key on it.
  const world = useWorld('redis-tls', undefined, { workers: 0, tearDown: () => redis?.stop() });
  const { names } = world;

  beforeAll(async () => {
    redis = await new TlsRedisServer().start();
    worker = await world.spawn({ REDIS_URL: redis.url(DB), NODE_EXTRA_CA_CERTS: redis.caPath });
  });

  it('runs a task through Bull over TLS: Steam is called and the result comes, with no plaintext connection', async () => {
    const { steam } = world.standIns;
    const before = steam.requests.length;

    world.publishTask('app.fetch', { taskId: 'tls-1', appId: 620, country: 'DE' });
    const result = await world.resultOf('tls-1', 20_000).catch((error: Error) => {
      // Bull speaking plaintext to the TLS port shows as failed handshakes in the server's log.
      throw new Error(
        `${error.message}; Steam requests: ${steam.requests.length - before}; ` +
          `failed TLS handshakes at the Redis: ${redis.failedHandshakes().length}`,
      );
    });

    expect(result.body).toEqual({
      pattern: 'app.fetch.done',
      data: { taskId: 'tls-1', updated: [620], failed: [] },
    });
    const requests = steam.requests.slice(before);
    expect(requests.map((request) => request.url.searchParams.get('appids'))).toContain('620');
    expect((await fetch(`${worker.url}/health/ready`)).status).toBe(200);
    // Nothing ever tried this TLS-only port without TLS (Bull's URL parser would have).
    expect(redis.failedHandshakes()).toEqual([]);
  });

  it("has every connection of the worker, Bull's included, on the TLS port, in the database of REDIS_URL", async () => {
    const admin = redis.client();
    const connections = ((await admin.client('LIST')) as string)
      .split('\n')
      .filter((line) => line.includes(` name=${names.REDIS_PREFIX}:`))
      .map((line) => ({
        name: /\bname=(\S*)/.exec(line)![1],
        db: Number(/\bdb=(\d+)/.exec(line)![1]),
      }));

    expect(connections.map((connection) => connection.name).sort()).toEqual(
      [
        `${names.REDIS_PREFIX}:bull-client`,
        `${names.REDIS_PREFIX}:bull-subscriber`,
        `${names.REDIS_PREFIX}:worker`,
        ...bullWorkerNames(names.REDIS_PREFIX),
      ].sort(),
    );
    expect(connections.map((connection) => connection.db)).toEqual([DB, DB, DB, DB, DB]);
    // The queue's and the worker's keys live in that database, under the prefix.
    expect(await admin.dbsize()).toBe(0);
    await admin.select(DB);
    const keys = await admin.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((key) => !key.startsWith(`${names.REDIS_PREFIX}:`))).toEqual([]);
    expect(keys.some((key) => key.startsWith(`${names.REDIS_PREFIX}:steam-requests:`))).toBe(true);
  });

  it('exits cleanly on SIGTERM, its TLS connections gone', async () => {
    const admin = redis.client();
    expect(await worker.stop('SIGTERM')).toBe(0);
    await waitFor(
      async () => !((await admin.client('LIST')) as string).includes(` name=${names.REDIS_PREFIX}:`),
      5000,
      "the worker's connections gone",
    );
    expect(redis.failedHandshakes()).toEqual([]);
  });
});

/**
 * Bull leaves the connections of a `createClient` open when its queue closes:
 * the app closes them itself. In process, against the shared Redis, where a
 * leak would outlive `app.close()`.
 */
describe("Bull's connections when the app closes", () => {
  const world = useWorld('redis-close', undefined, { workers: 0 });
  const { names } = world;
  let admin: Redis;

  beforeAll(() => {
    admin = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
  });

  afterAll(() => {
    admin?.disconnect();
  });

  const namedConnections = async () =>
    ((await admin.client('LIST')) as string)
      .split('\n')
      .map((line) => /\bname=(\S*)/.exec(line)?.[1] ?? '')
      .filter((name) => name.startsWith(`${names.REDIS_PREFIX}:`))
      .sort();

  it('closes all of them', async () => {
    const worker = await world.startWorker();
    try {
      await waitFor(async () => (await namedConnections()).length === 5, 10_000, 'five named connections');
      expect(await namedConnections()).toEqual(
        [
          `${names.REDIS_PREFIX}:bull-client`,
          `${names.REDIS_PREFIX}:bull-subscriber`,
          `${names.REDIS_PREFIX}:worker`,
          ...bullWorkerNames(names.REDIS_PREFIX),
        ].sort(),
      );
    } finally {
      await worker.close();
    }

    // Closed by the app itself, not by the end of a process.
    await waitFor(async () => (await namedConnections()).length === 0, 2000, 'no connection left');
  });
});
