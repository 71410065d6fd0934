import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Options } from 'amqplib';
import { Redis } from 'ioredis';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

import { AppModule } from '../../src/app.module';
import { jsonLogger, startWorker } from '../../src/bootstrap';
import { loadWorkerConfig } from '../../src/config/worker-config';
import { AuthStandIn, TEST_CLIENT_ID, TEST_CLIENT_SECRET } from './auth.stand-in';
import { BackendStandIn } from './backend.stand-in';
import { RabbitProbe, RABBITMQ_URL, ReceivedMessage, waitFor } from './rmq';
import { SteamStandIn } from './steam.stand-in';

/** Queue names and a Redis prefix of their own, so test files never see each other's state. */
export function isolatedNames(label: string) {
  const suffix = `${label}-${randomUUID().slice(0, 8)}`;
  return {
    WORKER_QUEUE: `test.${suffix}.tasks`,
    ORCHESTRATOR_QUEUE: `test.${suffix}.results`,
    REDIS_PREFIX: `test:${suffix}`,
  };
}

export interface StandIns {
  steam: SteamStandIn;
  auth: AuthStandIn;
  backend: BackendStandIn;
  stop(): Promise<void>;
}

export async function startStandIns(): Promise<StandIns> {
  const steam = await new SteamStandIn().start();
  const auth = await new AuthStandIn().start();
  const backend = await new BackendStandIn(auth).start();
  return {
    steam,
    auth,
    backend,
    stop: async () => {
      await Promise.all([steam.stop(), auth.stop(), backend.stop()]);
    },
  };
}

/** Everything a worker needs to talk to the stand-ins, with short timings for tests. */
export function testEnvironment(standIns: StandIns, names: ReturnType<typeof isolatedNames>): Record<string, string> {
  return {
    ...names,
    RABBITMQ_URL,
    REDIS_URL: 'redis://127.0.0.1:6379',
    STEAM_API_URL: standIns.steam.url,
    STEAM_STORE_URL: standIns.steam.url,
    STEAM_API_KEY: standIns.steam.apiKey,
    STEAM_RATE_LIMIT: '1000',
    STEAM_RATE_WINDOW_MS: '1000',
    // The stand-in Steam shares a busy 2-core CI machine (and often its process)
    // with the workers: 100 ms per window absorbs its own scheduling lag when it
    // counts arrivals. Production keeps the default 2 % of the window.
    STEAM_RATE_MARGIN_MS: '100',
    STEAM_BACKOFF_MS: '20',
    STEAM_COOLDOWN_MS: '200',
    STEAM_TIMEOUT_MS: '2000',
    BACKEND_URL: standIns.backend.url,
    BACKEND_BACKOFF_MS: '10',
    BACKEND_TIMEOUT_MS: '2000',
    AUTH_URL: `${standIns.auth.url}/oauth/token`,
    AUTH_CLIENT_ID: TEST_CLIENT_ID,
    AUTH_CLIENT_SECRET: TEST_CLIENT_SECRET,
    LIVENESS_CONSUMER_GRACE_MS: '1000',
    SHUTDOWN_GRACE_MS: '3000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'fatal',
  };
}

export interface TestWorker {
  app: INestApplication;
  /** Base URL of its health endpoints. */
  url: string;
  close(): Promise<void>;
}

/** Boots the real AppModule with the Nest testing module, as `main.ts` would. */
export async function startTestWorker(env: Record<string, string>): Promise<TestWorker> {
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(loadWorkerConfig(env))] }).compile();
  const app = moduleRef.createNestApplication({ logger: jsonLogger((env.LOG_LEVEL as 'fatal') ?? 'fatal') });
  await startWorker(app, { port: 0 });
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/** A probe plus the result and dead-letter queues of `names`, collected from now on. */
export async function watchQueues(names: ReturnType<typeof isolatedNames>) {
  const rabbit = await RabbitProbe.connect();
  const results = await rabbit.collect(names.ORCHESTRATOR_QUEUE);
  const deadLetters = await rabbit.collect(`${names.WORKER_QUEUE}.dlq`);
  return { rabbit, results, deadLetters };
}

/** One worker with its own names, stand-ins and queue probes; its fields are set once `start` has run. */
export interface WorkerFixture {
  readonly names: ReturnType<typeof isolatedNames>;
  readonly standIns: StandIns;
  readonly worker: TestWorker;
  readonly rabbit: RabbitProbe;
  /** What arrived on the result queue since `start`. */
  readonly results: ReceivedMessage[];
  /** What arrived on the dead-letter queue since `start`. */
  readonly deadLetters: ReceivedMessage[];
  /** Publishes `task` (an envelope, a string or raw bytes) to the worker's queue. */
  publish(task: unknown, options?: Options.Publish): void;
  /** Starts the stand-ins, the worker and the queue probes, and waits until the worker is ready: pass to `beforeAll`. */
  start(): Promise<void>;
  /** Closes the worker, deletes its queues and Redis keys, closes the probe and stops the stand-ins: pass to `afterAll`. */
  stop(): Promise<void>;
}

/**
 * Everything the e2e files repeat around one in-process worker. It registers no
 * hooks itself (this file is also compiled for tools/, where `vitest` cannot be
 * loaded), so a describe block does:
 *
 *   const fixture = workerFixture('label', (standIns) => ({ SOME_ENV: '1' }));
 *   beforeAll(fixture.start);
 *   afterAll(fixture.stop);
 *
 * `overrides` runs once the stand-ins are up and is spread over `testEnvironment`.
 */
export function workerFixture(
  label: string,
  overrides: (standIns: StandIns) => Record<string, string> = () => ({}),
): WorkerFixture {
  const names = isolatedNames(label);
  let env: Record<string, string> | undefined;
  let standIns: StandIns | undefined;
  let worker: TestWorker | undefined;
  let queues: Awaited<ReturnType<typeof watchQueues>> | undefined;
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`workerFixture(${label}): ${what} is not there before start() has run`);
    return value;
  };
  return {
    names,
    get standIns() {
      return started(standIns, 'standIns');
    },
    get worker() {
      return started(worker, 'worker');
    },
    get rabbit() {
      return started(queues, 'rabbit').rabbit;
    },
    get results() {
      return started(queues, 'results').results;
    },
    get deadLetters() {
      return started(queues, 'deadLetters').deadLetters;
    },
    publish(task, options) {
      started(queues, 'rabbit').rabbit.publish(names.WORKER_QUEUE, task, options);
    },
    async start() {
      standIns = await startStandIns();
      env = { ...testEnvironment(standIns, names), ...overrides(standIns) };
      const running = await startTestWorker(env);
      worker = running;
      queues = await watchQueues(names);
      await waitFor(async () => (await fetch(`${running.url}/health/ready`)).status === 200, 20_000, 'readiness');
    },
    async stop() {
      await worker?.close();
      await queues?.rabbit.deleteQueues(names.WORKER_QUEUE, `${names.WORKER_QUEUE}.dlq`, names.ORCHESTRATOR_QUEUE);
      await queues?.rabbit.close();
      await standIns?.stop();
      if (env) await deleteRedisKeys(env.REDIS_URL, names.REDIS_PREFIX);
    },
  };
}

/** Removes what a test worker left in Redis under its prefix (best effort). */
async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    /* best effort */
  } finally {
    redis.disconnect();
  }
}
