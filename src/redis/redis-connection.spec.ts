import Bull from 'bull';
import type { RedisOptions } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';

import { bullClientOptions, BullRedisClients, createRedisClient, redisConnectionOptions } from './redis-connection';

/** What Bull hands its `createClient` (queue.js: its defaults over `opts.redis`). */
const retryStrategy = (times: number) => Math.min(Math.exp(times), 20000);
const BULL_REDIS_OPTS: RedisOptions = { enableReadyCheck: false, host: '127.0.0.1', port: 6379, retryStrategy };

describe(redisConnectionOptions.name, () => {
  it('connects in plaintext for redis://', () => {
    expect(redisConnectionOptions('redis://redis.internal:6380')).toEqual({ host: 'redis.internal', port: 6380 });
  });

  it('speaks TLS for rediss://, whatever the case of the scheme', () => {
    expect(redisConnectionOptions('rediss://redis.internal:6380')).toEqual({
      host: 'redis.internal',
      port: 6380,
      tls: {},
    });
    expect(redisConnectionOptions('REDISS://redis.internal').tls).toEqual({});
  });

  it('keeps the database number of the URL', () => {
    expect(redisConnectionOptions('redis://redis:6379/3')).toEqual({ host: 'redis', port: 6379, db: 3 });
    expect(redisConnectionOptions('rediss://redis/7').db).toBe(7);
    expect(redisConnectionOptions('redis://redis/').db).toBeUndefined();
  });

  it('defaults the port and decodes credentials', () => {
    expect(redisConnectionOptions('rediss://worker:p%40ss%2Fword@[::1]')).toEqual({
      host: '::1',
      port: 6379,
      username: 'worker',
      password: 'p@ss/word',
      tls: {},
    });
    expect(redisConnectionOptions('redis://:only-password@redis')).toEqual({
      host: 'redis',
      port: 6379,
      password: 'only-password',
    });
  });

  it('refuses a path that is not a database number, without echoing the URL', () => {
    expect(() => redisConnectionOptions('redis://:secret@redis/not-a-db')).toThrow(/database number/);
    expect(() => redisConnectionOptions('redis://:secret@redis/not-a-db')).not.toThrow(/secret/);
    expect(() => redisConnectionOptions('http://redis')).toThrow(/redis:\/\/ or rediss:\/\//);
  });
});

describe(createRedisClient.name, () => {
  it('builds an ioredis client with TLS and the database of the URL, and the caller options', () => {
    const client = createRedisClient('rediss://localhost:6390/5', { lazyConnect: true, maxRetriesPerRequest: 2 });
    try {
      expect(client.options).toMatchObject({
        host: 'localhost',
        port: 6390,
        db: 5,
        tls: {},
        maxRetriesPerRequest: 2,
      });
    } finally {
      client.disconnect();
    }
  });

  it('builds a plaintext client for redis://', () => {
    const client = createRedisClient('redis://localhost:6390', { lazyConnect: true });
    try {
      expect(client.options.tls).toBeUndefined();
      expect(client.options.db).toBe(0);
    } finally {
      client.disconnect();
    }
  });
});

describe(bullClientOptions.name, () => {
  it("puts the URL's connection over Bull's defaults and keeps Bull's retry strategy", () => {
    const options = bullClientOptions('rediss://redis.internal:6380/2', 'client', BULL_REDIS_OPTS, 'p:bull-client');

    expect(options).toEqual({
      enableReadyCheck: false,
      host: 'redis.internal',
      port: 6380,
      db: 2,
      tls: {},
      retryStrategy,
      connectionName: 'p:bull-client',
    });
    // The client that adds jobs keeps ioredis' bounded retries per command.
    expect(options.maxRetriesPerRequest).toBeUndefined();
  });

  it.each(['bclient', 'subscriber'] as const)(
    'gives Bull its %s with maxRetriesPerRequest null and no ready check',
    (type) => {
      const options = bullClientOptions('rediss://redis:6379/3', type, {
        ...BULL_REDIS_OPTS,
        enableReadyCheck: true,
        maxRetriesPerRequest: 20,
      });

      expect(options).toMatchObject({ maxRetriesPerRequest: null, enableReadyCheck: false, db: 3, tls: {} });
    },
  );

  it('has no TLS for redis://', () => {
    expect(bullClientOptions('redis://redis:6379', 'subscriber', BULL_REDIS_OPTS).tls).toBeUndefined();
  });
});

describe(BullRedisClients.name, () => {
  const made: BullRedisClients[] = [];
  afterEach(async () => {
    for (const clients of made.splice(0)) await clients.close();
  });

  /** Clients that connect only when used: nothing here talks to a Redis. */
  const lazy = (url: string, prefix?: string) => {
    const clients = new BullRedisClients(url, prefix);
    made.push(clients);
    return {
      clients,
      createClient: (type: 'client' | 'subscriber' | 'bclient', redisOpts?: RedisOptions) =>
        clients.createClient(type, { ...redisOpts, lazyConnect: true }),
    };
  };

  it('makes every Bull connection from REDIS_URL, TLS and database included, and names them', () => {
    const { createClient } = lazy('rediss://localhost:6390/4', 'test:prefix');

    for (const type of ['client', 'subscriber', 'bclient'] as const) {
      const client = createClient(type, BULL_REDIS_OPTS);
      expect(client.options).toMatchObject({ host: 'localhost', port: 6390, db: 4, tls: {} });
    }
    expect(createClient('client', BULL_REDIS_OPTS).options.connectionName).toBe('test:prefix:bull-client');
    expect(createClient('subscriber', BULL_REDIS_OPTS).options.connectionName).toBe('test:prefix:bull-subscriber');
    // Bull names its blocking client after the queue (getWorkers relies on it).
    expect(createClient('bclient', BULL_REDIS_OPTS).options.connectionName).toBeNull();
  });

  it('passes the checks of a real Bull queue for all three connections', async () => {
    const { createClient } = lazy('rediss://localhost:6390/4');
    // skipVersionCheck (not in Bull's typings): no INFO on a Redis that is not there.
    const options = { createClient, prefix: 'unit', skipVersionCheck: true } as Bull.QueueOptions;
    const queue = new Bull('unit-redis-connection', options);
    const connections = queue as unknown as Record<'client' | 'eclient' | 'bclient', { options: RedisOptions }>;

    // Each getter makes its connection through createClient; Bull throws
    // MISSING_REDIS_OPTS for a bclient or subscriber it could not use.
    expect(connections.bclient.options).toMatchObject({ maxRetriesPerRequest: null, tls: {}, db: 4 });
    expect(connections.eclient.options).toMatchObject({ maxRetriesPerRequest: null, tls: {}, db: 4 });
    expect(connections.client.options).toMatchObject({ tls: {}, db: 4 });
  });

  it('hands every queue the same client and subscriber, and a blocking client of its own', () => {
    const { createClient } = lazy('redis://localhost:6390');

    expect(createClient('client')).toBe(createClient('client'));
    expect(createClient('subscriber')).toBe(createClient('subscriber'));
    expect(createClient('client')).not.toBe(createClient('subscriber'));
    expect(createClient('bclient')).not.toBe(createClient('bclient'));
  });

  it('closes every client it made', async () => {
    const { clients, createClient } = lazy('redis://localhost:6390');
    const made = [createClient('client'), createClient('subscriber'), createClient('bclient')];

    await clients.close();

    expect(made.map((client) => client.status)).toEqual(['end', 'end', 'end']);
  });
});
