import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Options } from 'amqplib';
import { Redis } from 'ioredis';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

import { AppModule } from '../../src/app.module';
import { startWorker } from '../../src/bootstrap';
import { WorkerConfigModule } from '../../src/config/config.module';
import { workerLogger } from '../../src/logging/worker.logger';
import { AuthStandIn, TEST_CLIENT_ID, TEST_CLIENT_SECRET } from './auth.stand-in';
import { BackendStandIn } from './backend.stand-in';
import { RabbitProbe, RABBITMQ_URL, ReceivedMessage } from './rmq';
import { resultOf, resultsFor, waitReady } from './shapes';
import { SteamStandIn } from './steam.stand-in';
import { ChildWorker, spawnChildWorker } from './worker.process';

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

/** Starts the three stand-ins; `steam` may be a SteamStandIn of a test's own (a subclass, say). */
export async function startStandIns(steamStandIn: SteamStandIn = new SteamStandIn()): Promise<StandIns> {
  const steam = await steamStandIn.start();
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

/** The Redis every test shares (each under a REDIS_PREFIX of its own). */
export const SHARED_REDIS_URL = 'redis://127.0.0.1:6379';

/** Everything a worker needs to talk to the stand-ins, with short timings for tests. */
export function testEnvironment(standIns: StandIns, names: ReturnType<typeof isolatedNames>): Record<string, string> {
  return {
    ...names,
    RABBITMQ_URL,
    REDIS_URL: SHARED_REDIS_URL,
    STEAM_API_URL: standIns.steam.url,
    STEAM_STORE_URL: standIns.steam.url,
    STEAM_API_KEY: standIns.steam.apiKey,
    STEAM_RATE_LIMIT: '1000',
    STEAM_RATE_WINDOW_MS: '1000',
    STEAM_API_RATE_LIMIT: '1000',
    STEAM_API_RATE_WINDOW_MS: '1000',
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
  /** Closes the app (once, however often it is called). */
  close(): Promise<void>;
}

/** Boots the real AppModule with the Nest testing module, as `main.ts` would. */
export async function startTestWorker(env: Record<string, string>): Promise<TestWorker> {
  const { module, config } = await WorkerConfigModule.load(env);
  const logger = workerLogger(config.logLevel);
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(module, config)] })
    .setLogger(logger)
    .compile();
  const app = moduleRef.createNestApplication({ logger });
  await startWorker(app, { port: 0 });
  const { port } = app.getHttpServer().address() as AddressInfo;
  let closing: Promise<void> | undefined;
  // Closing twice closes once: a test may close its worker before the fixture does.
  return { app, url: `http://127.0.0.1:${port}`, close: () => (closing ??= app.close()) };
}

/** A probe plus the result and dead-letter queues of `names`, collected from now on. */
export async function watchQueues(names: ReturnType<typeof isolatedNames>, collectDeadLetters = true) {
  const rabbit = await RabbitProbe.connect();
  const results = await rabbit.collect(names.ORCHESTRATOR_QUEUE);
  const deadLetters = collectDeadLetters ? await rabbit.collect(`${names.WORKER_QUEUE}.dlq`) : [];
  return { rabbit, results, deadLetters };
}

export interface WorkerFixtureOptions {
  /** In-process workers that `start()` boots (default 1; 0 for a world whose workers a test starts itself). */
  workers?: number;
  /** The stand-ins of another fixture, to share instead of starting (and stopping) stand-ins of its own. */
  standIns?: () => StandIns;
  /** The Steam stand-in its own stand-ins use (default a plain SteamStandIn). */
  steam?: () => SteamStandIn;
  /** Called with each in-process worker as soon as it is up, before it is ready: for spies and listeners. */
  onWorker?: (worker: TestWorker, index: number) => void;
  /** Whether the probe consumes the dead-letter queue into `deadLetters` (default true); false leaves dead letters in it. */
  collectDeadLetters?: boolean;
}

/** A world of its own for the workers of one describe block; its fields are there once `start` has run. */
export interface WorkerFixture {
  readonly names: ReturnType<typeof isolatedNames>;
  readonly standIns: StandIns;
  /** Whether `start()` got as far as the stand-ins. */
  readonly started: boolean;
  /** The environment of its workers: `testEnvironment` with the overrides. */
  readonly env: Record<string, string>;
  /** The first in-process worker. */
  readonly worker: TestWorker;
  /** Every in-process worker, in the order they started. */
  readonly workers: readonly TestWorker[];
  /** Every built worker started as a child process by `spawn`. */
  readonly children: readonly ChildWorker[];
  readonly rabbit: RabbitProbe;
  /** What arrived on the result queue since `start`. */
  readonly results: ReceivedMessage[];
  /** What arrived on the dead-letter queue since `start`. */
  readonly deadLetters: ReceivedMessage[];
  /** Publishes `task` (an envelope, a string or raw bytes) to the worker queue. */
  publish(task: unknown, options?: Options.Publish): void;
  /** Publishes the envelope `{ pattern, data }` to the worker queue. */
  publishTask(pattern: string, data: Record<string, unknown>, options?: Options.Publish): void;
  /** Waits for the first result whose data.taskId is `taskId` (30 s unless told). */
  resultOf(taskId: string, timeoutMs?: number): Promise<ReceivedMessage>;
  /** The results so far whose data.taskId is `taskId`. */
  resultsFor(taskId: string): ReceivedMessage[];
  /** Boots one more in-process worker with its environment (and `extra`), and waits until it is ready. */
  startWorker(extra?: Record<string, string>): Promise<TestWorker>;
  /**
   * Starts the built worker (`node dist/main.js`) as a child process with its
   * environment, `LOG_LEVEL=info` and `extra`, on a free port; waits until it is
   * ready unless `waitReady` is false (a worker expected to stop at once, say).
   */
  spawn(extra?: Record<string, string>, options?: { waitReady?: boolean; launcher?: string[] }): Promise<ChildWorker>;
  /** SIGKILLs the child processes still running and waits until every one has exited. */
  killChildren(): Promise<void>;
  /** Starts the stand-ins, the queue probes and the in-process workers, and waits until they are ready: pass to `beforeAll`. */
  start(): Promise<void>;
  /**
   * Closes the workers, kills the child processes, deletes its queues, closes the
   * probe, stops its stand-ins and deletes its Redis keys: pass to `afterAll`.
   */
  stop(): Promise<void>;
}

/**
 * Everything the e2e files repeat around their workers. It registers no hooks
 * itself (this file is also compiled for tools/, where `vitest` cannot be
 * loaded): `useWorld` (vitest-world.ts) does, or a describe block does:
 *
 *   const fixture = workerFixture('label', (standIns) => ({ SOME_ENV: '1' }));
 *   beforeAll(fixture.start);
 *   afterAll(fixture.stop);
 *
 * `overrides` runs once the stand-ins are up and is spread over `testEnvironment`.
 * Whatever `start` got to, `stop` cleans up: the queues of its names and, in the
 * shared Redis and in the one its REDIS_URL names, every key under its prefix.
 */
export function workerFixture(
  label: string,
  overrides: (standIns: StandIns) => Record<string, string> = () => ({}),
  options: WorkerFixtureOptions = {},
): WorkerFixture {
  const names = isolatedNames(label);
  let env: Record<string, string> | undefined;
  let standIns: StandIns | undefined;
  let queues: Awaited<ReturnType<typeof watchQueues>> | undefined;
  const workers: TestWorker[] = [];
  const children: ChildWorker[] = [];
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`workerFixture(${label}): ${what} is not there before start() has run`);
    return value;
  };
  const fixture: WorkerFixture = {
    names,
    get standIns() {
      return need(standIns, 'standIns');
    },
    get started() {
      return standIns !== undefined;
    },
    get env() {
      return need(env, 'env');
    },
    get worker() {
      return need(workers[0], 'worker');
    },
    workers,
    children,
    get rabbit() {
      return need(queues, 'rabbit').rabbit;
    },
    get results() {
      return need(queues, 'results').results;
    },
    get deadLetters() {
      return need(queues, 'deadLetters').deadLetters;
    },
    publish(task, publishOptions) {
      need(queues, 'rabbit').rabbit.publish(names.WORKER_QUEUE, task, publishOptions);
    },
    publishTask(pattern, data, publishOptions) {
      fixture.publish({ pattern, data }, publishOptions);
    },
    resultOf: (taskId, timeoutMs) => resultOf(fixture.results, taskId, timeoutMs),
    resultsFor: (taskId) => resultsFor(fixture.results, taskId),
    async startWorker(extra = {}) {
      const worker = await startTestWorker({ ...fixture.env, ...extra });
      workers.push(worker);
      options.onWorker?.(worker, workers.length - 1);
      await waitReady(worker.url);
      return worker;
    },
    async spawn(extra = {}, { waitReady: ready = true, launcher = [] } = {}) {
      const child = await spawnChildWorker({ ...fixture.env, LOG_LEVEL: 'info', ...extra }, launcher);
      children.push(child);
      if (ready) await child.ready();
      return child;
    },
    async killChildren() {
      for (const child of children) if (child.running()) child.child.kill('SIGKILL');
      await Promise.all(children.map((child) => child.exited));
    },
    async start() {
      standIns = options.standIns ? options.standIns() : await startStandIns(options.steam?.());
      env = { ...testEnvironment(standIns, names), ...overrides(standIns) };
      queues = await watchQueues(names, options.collectDeadLetters);
      for (let index = 0; index < (options.workers ?? 1); index++) await fixture.startWorker();
    },
    async stop() {
      await Promise.all(workers.map((worker) => worker.close()));
      await fixture.killChildren();
      await queues?.rabbit.deleteQueues(names.WORKER_QUEUE, `${names.WORKER_QUEUE}.dlq`, names.ORCHESTRATOR_QUEUE);
      await queues?.rabbit.close();
      if (!options.standIns) await standIns?.stop();
      for (const url of new Set([SHARED_REDIS_URL, env?.REDIS_URL ?? SHARED_REDIS_URL])) {
        await deleteRedisKeys(url, names.REDIS_PREFIX);
      }
    },
  };
  return fixture;
}

/** Removes what a test worker left in the Redis of `url` under `prefix` (best effort). */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
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
