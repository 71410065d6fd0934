import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';

import { WorkerConfig } from '../config/worker-config';
import { createRedisClient } from './redis-connection';

/**
 * A Lua script of the worker. `lua` opens by naming its KEYS and ARGV, and
 * says what it guarantees; `keys` is how many KEYS it takes (undefined: the
 * caller passes them, for scripts over a variable number of keys).
 */
export interface RedisScript {
  name: string;
  keys?: number;
  lua: string;
  /** Whether its answer is binary (a bitmap): bulk strings then come back as Buffers. */
  binary?: boolean;
}

/** KEYS: one key. Returns its string value, or nil when it has none. */
const READ_VALUE: RedisScript = {
  name: 'steamWorkerReadValue',
  keys: 1,
  lua: `
return redis.call('GET', KEYS[1])
`,
};

/** Runs one registered script by name (EVALSHA, loaded on first use). */
export type ScriptCall<Result> = (keys: readonly string[], ...args: (string | number)[]) => Promise<Result>;

/**
 * The worker's own Redis connection (limiter, task state, readiness), apart
 * from Bull's. It speaks Redis only through named Lua scripts, each
 * registered once, and a ping; every key goes through {@link key} so that it
 * lives under `REDIS_PREFIX`.
 */
@Injectable()
export class RedisClient implements OnApplicationShutdown {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly scripts = new Map<string, RedisScript>();
  private readValue?: ScriptCall<string | null>;

  constructor(@Inject(WorkerConfig) config: WorkerConfig) {
    this.prefix = config.redis.prefix;
    // Built like Bull's connections: TLS for rediss://, the database of the URL.
    this.redis = createRedisClient(config.redis.url, {
      // Fail a command after a couple of reconnect rounds instead of queueing it
      // for ever: callers decide whether to wait or give the task back.
      maxRetriesPerRequest: 2,
      connectionName: `${config.redis.prefix}:worker`,
      lazyConnect: false,
    });
    // ioredis reconnects by itself; without a listener an outage would crash the process.
    this.redis.on('error', () => undefined);
  }

  key(...parts: (string | number)[]): string {
    return [this.prefix, ...parts].join(':');
  }

  /** Registers `script` on this connection (once per name) and returns its call. */
  script<Result>(script: RedisScript): ScriptCall<Result> {
    const known = this.scripts.get(script.name);
    if (known && known.lua !== script.lua) throw new Error(`Two Redis scripts are named ${script.name}`);
    if (!known) {
      this.redis.defineCommand(script.name, { numberOfKeys: script.keys, lua: script.lua });
      this.scripts.set(script.name, script);
    }
    // ioredis defines `<name>Buffer` beside `<name>` for binary answers.
    const name = script.binary ? `${script.name}Buffer` : script.name;
    const command = (this.redis as unknown as Record<string, (...args: unknown[]) => Promise<Result>>)[name]!;
    return (keys, ...args) =>
      script.keys === undefined
        ? command.call(this.redis, keys.length, ...keys, ...args)
        : command.call(this.redis, ...keys, ...args);
  }

  /** The string value of `key` (a full key, from {@link key}), or null when it has none. */
  read(key: string): Promise<string | null> {
    this.readValue ??= this.script<string | null>(READ_VALUE);
    return this.readValue([key]);
  }

  /** Whether the connection is up right now, as ioredis last saw it (no round trip). */
  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  /** Whether Redis answers a PING within `timeoutMs`. */
  async ping(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const answered = this.redis.ping().then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([answered, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

@Global()
@Module({ providers: [RedisClient], exports: [RedisClient] })
export class RedisModule {}
