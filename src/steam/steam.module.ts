import { HttpModule } from '@nestjs/axios';
import { BullModule, getQueueToken } from '@nestjs/bull';
import { Module, Provider } from '@nestjs/common';
import type { Queue } from 'bull';

import { WorkerConfig } from '../config/worker-config';
import { BullRedisClients } from '../redis/redis-connection';
import { EgressLimiter } from './egress/egress.limiter';
import { EgressPool } from './egress/egress.pool';
import { RETRY_LATER_BACKOFF, retryLaterBackoff, STEAM_QUEUES } from './steam-queue.constants';
import { STEAM_BUDGETS } from './steam-budget';
import { SteamClient } from './steam.client';
import { SteamRequestProcessor } from './steam-request.processor';
import { SteamRequestQueue } from './steam-request.queue';

/** Bull's Redis clients for the Steam queues, and their closing once every queue has closed. */
const queueClientProviders: Provider[] = [
  {
    provide: BullRedisClients,
    inject: [WorkerConfig],
    useFactory: (config: WorkerConfig) => new BullRedisClients(config.redis.url, config.redis.prefix),
  },
  {
    // Bull leaves the clients of a createClient open: close them once the queues have closed.
    provide: 'steam-queues:redis-clients-closer',
    inject: [BullRedisClients, ...STEAM_BUDGETS.map((budget) => getQueueToken(STEAM_QUEUES[budget]))],
    useFactory: (clients: BullRedisClients, ...queues: Queue[]) => ({
      onApplicationShutdown: () => Promise.all(queues.map((queue) => queue.close())).finally(() => clients.close()),
    }),
  },
];

/**
 * Every HTTP call to Steam is a job on a Redis-backed Bull queue, one per
 * budget, shared by all tasks of all worker processes; its processor takes
 * each call through the egress limiter. Other modules use
 * {@link SteamRequestQueue} only.
 */
@Module({
  imports: [
    HttpModule.registerAsync({
      inject: [WorkerConfig],
      useFactory: (config: WorkerConfig) => ({ timeout: config.steam.timeoutMs, maxRedirects: 0 }),
    }),
    BullModule.registerQueueAsync(
      ...STEAM_BUDGETS.map((budget, index) => ({
        name: STEAM_QUEUES[budget],
        inject: [WorkerConfig, BullRedisClients],
        // Registered once, beside the first queue: one set of clients, closed after every queue.
        extraProviders: index === 0 ? queueClientProviders : [],
        useFactory: (config: WorkerConfig, clients: BullRedisClients) => ({
          // Not `redis: <url>`: Bull's URL parser drops TLS (rediss://). Its three
          // connections are built from REDIS_URL like the worker's own client.
          createClient: clients.createClient,
          prefix: config.redis.prefix,
          settings: {
            backoffStrategies: { [RETRY_LATER_BACKOFF]: retryLaterBackoff },
            // A job whose process died is run again; a few stalls are not a failure.
            maxStalledCount: 5,
            // After a Redis error Bull pauses before taking the next job (5 s by default).
            retryProcessDelay: 1000,
          },
        }),
      })),
    ),
  ],
  providers: [SteamClient, EgressPool, EgressLimiter, SteamRequestProcessor, SteamRequestQueue],
  exports: [SteamRequestQueue, SteamRequestProcessor, EgressPool, EgressLimiter],
})
export class SteamModule {}
