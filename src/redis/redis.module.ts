import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';

import { WorkerConfig } from '../config/worker-config';
import { createRedisClient } from './redis-connection';

/**
 * The worker's own Redis connection (limiter, task state, readiness), apart
 * from Bull's. Every key goes through {@link RedisClient.key} so that it lives
 * under `REDIS_PREFIX`.
 */
@Injectable()
export class RedisClient implements OnApplicationShutdown {
  readonly redis: Redis;
  private readonly prefix: string;

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

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

@Global()
@Module({ providers: [RedisClient], exports: [RedisClient] })
export class RedisModule {}
