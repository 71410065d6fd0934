import axios from 'axios';
import Bull from 'bull';
import { Redis } from 'ioredis';

import { maxInSlidingWindow } from '../../test/support/http-stand-in';
import { waitFor } from '../../test/support/rmq';
import { isolatedNames, testEnvironment, watchQueues } from '../../test/support/worker.harness';
import { epochMs, startLeanStandIns } from './lean-stand-ins';
import { deleteKeysUnder, REDIS_URL } from './redis-keys';
import { fixed, Row, sleep } from './report';
import { startRemoteSteam } from './steam-server';
import { freePort, WorkerChild } from './worker-child';

export const RATE = { limit: 10, windowMs: 2000, requests: 60 } as const;

/** When the stand-in Steam saw the requests of one workload arrive (epoch ms, taken in its own process). */
interface Arrivals {
  times: number[];
}

interface Workloads {
  /** 60 requests queued at once: the limiter alone sets the pace. */
  steady: Arrivals;
  /** 1 request, then 59 more 0.9·W after it arrived: a fixed window's edge falls inside the burst. */
  straddle: Arrivals;
}

/** A stand-in task: `apps.fetch` of some apps in some countries. */
interface Batch {
  taskId: string;
  appIds: number[];
  countries: string[];
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, index) => from + index);

/** 59 pairs as six `apps.fetch` tasks (five of 5 apps × 2 countries, one of 9 apps × 1). */
function burstBatches(label: string, firstAppId: number): Batch[] {
  const batches = range(0, 5).map((task) => ({
    taskId: `${label}-${task}`,
    appIds: range(firstAppId + task * 5, 5),
    countries: ['US', 'DE'],
  }));
  batches.push({ taskId: `${label}-5`, appIds: range(firstAppId + 25, 9), countries: ['GB'] });
  return batches;
}

const ideal = (count: number) => ((count - 1) * RATE.windowMs) / RATE.limit;
const span = (times: readonly number[]) => Math.max(...times) - Math.min(...times);

/** Two built workers (`node dist/main.js`) on one REDIS_PREFIX and task queue. */
async function startWorkers(env: Record<string, string>): Promise<WorkerChild[]> {
  const workers: WorkerChild[] = [];
  try {
    for (let index = 0; index < 2; index++) {
      const port = await freePort();
      const worker = new WorkerChild({ ...env, HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1' });
      workers.push(worker);
      await waitFor(
        async () => {
          if (worker.child.exitCode !== null) throw new Error(`a worker exited at start: ${worker.stderr.trim()}`);
          return (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200;
        },
        30_000,
        'a worker process to be ready',
      );
    }
    return workers;
  } catch (error) {
    await Promise.all(workers.map((worker) => worker.stop()));
    throw error;
  }
}

/**
 * Two steam-worker instances (child processes on one REDIS_PREFIX and one task
 * queue), fed through RabbitMQ, against the stand-in Steam in a process of its own.
 */
async function workerWorkloads(progress: (line: string) => void): Promise<Workloads> {
  const names = isolatedNames('bench-rate');
  const standIns = await startLeanStandIns();
  const steam = await startRemoteSteam(true);
  const env: Record<string, string> = {
    ...testEnvironment(standIns, names),
    STEAM_API_URL: steam.url,
    STEAM_STORE_URL: steam.url,
    STEAM_RATE_LIMIT: String(RATE.limit),
    STEAM_RATE_WINDOW_MS: String(RATE.windowMs),
  };
  // The product's default margin (2 % of W), not the e2e harness' wider one.
  delete env.STEAM_RATE_MARGIN_MS;
  const queues = await watchQueues(names);
  let workers: WorkerChild[] = [];
  try {
    workers = await startWorkers(env);
    const arrivals = steam.arrivals;
    const publish = (batch: Batch) =>
      queues.rabbit.publish(names.WORKER_QUEUE, {
        pattern: 'apps.fetch',
        data: { taskId: batch.taskId, appIds: batch.appIds, countries: batch.countries },
      });
    const awaitResults = async (batches: Batch[]) => {
      const ids = new Set(batches.map((batch) => batch.taskId));
      const results = await waitFor(
        () => {
          const found = queues.results.filter((message) =>
            ids.has((message.body as { data: { taskId: string } }).data.taskId),
          );
          return found.length >= ids.size && found;
        },
        60_000,
        'the rate-limited results',
      );
      for (const { body } of results) {
        const { pattern, data } = body as { pattern: string; data: { updated: number[]; failed: unknown[] } };
        if (pattern !== 'apps.fetch.done' || data.failed.length > 0) {
          throw new Error(`unexpected result in the rate-limit run: ${JSON.stringify(body).slice(0, 300)}`);
        }
      }
    };

    progress('(a) steam-worker: steady backlog of 60 requests from 6 apps.fetch tasks, 2 worker processes');
    const steadyBatches = range(0, 6).map((task) => ({
      taskId: `steady-${task}`,
      appIds: range(100 + task * 5, 5),
      countries: ['US', 'DE'],
    }));
    let before = (await arrivals()).length;
    steadyBatches.forEach(publish);
    await awaitResults(steadyBatches);
    const steady = { times: (await arrivals()).slice(before) };

    // Let the limiter's state lapse so the lone request starts at once.
    await sleep(RATE.windowMs);
    progress('(a) steam-worker: 1 request, then 59 more 0.9 W after it arrived');
    before = (await arrivals()).length;
    const lone: Batch = { taskId: 'lone', appIds: [500], countries: ['US'] };
    publish(lone);
    const loneAt = await waitFor(async () => (await arrivals())[before], 20_000, 'the lone request');
    await sleep(loneAt + 0.9 * RATE.windowMs - epochMs(performance.now()));
    const burst = burstBatches('burst', 600);
    burst.forEach(publish);
    await awaitResults([lone, ...burst]);
    const straddle = { times: (await arrivals()).slice(before) };
    return { steady, straddle };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await queues.rabbit.deleteQueues(names.WORKER_QUEUE, `${names.WORKER_QUEUE}.dlq`, names.ORCHESTRATOR_QUEUE);
    await queues.rabbit.close();
    await standIns.stop();
    await steam.stop();
    await dropKeys(names.REDIS_PREFIX);
  }
}

/**
 * Bull's own limiter on the same workloads: two Queue instances (two
 * processors) share `limiter: {max: L, duration: W}` and call the stand-in
 * Steam directly from the processor.
 */
async function bullWorkloads(progress: (line: string) => void): Promise<Workloads> {
  const { REDIS_PREFIX: prefix } = isolatedNames('bench-bull-limiter');
  const steam = await startRemoteSteam(true);
  const http = axios.create({ timeout: 5000 });
  const queues = [0, 1].map(
    () => new Bull('limited', { redis: REDIS_URL, prefix, limiter: { max: RATE.limit, duration: RATE.windowMs } }),
  );
  try {
    for (const queue of queues) {
      void queue.process(5, async (job: Bull.Job<{ appId: number; country: string }>) => {
        await http.get(`${steam.url}/api/appdetails`, {
          params: { appids: job.data.appId, cc: job.data.country, l: 'english' },
        });
      });
      await queue.isReady();
    }
    const arrivals = steam.arrivals;
    const add = (appIds: number[]) =>
      queues[0]!.addBulk(
        appIds.map((appId) => ({
          data: { appId, country: 'US' },
          opts: { removeOnComplete: true, removeOnFail: true },
        })),
      );

    progress('(a) Bull limiter: steady backlog of 60 jobs, 2 processors');
    let before = (await arrivals()).length;
    await add(range(100, RATE.requests));
    await waitFor(async () => (await arrivals()).length >= before + RATE.requests, 60_000, 'the Bull backlog');
    const steady = { times: (await arrivals()).slice(before) };

    // Let the fixed window lapse so the lone job opens a new one.
    await sleep(RATE.windowMs * 1.5);
    progress('(a) Bull limiter: 1 job, then 59 more 0.9 W after it arrived');
    before = (await arrivals()).length;
    await add([500]);
    const loneAt = await waitFor(async () => (await arrivals())[before], 20_000, 'the lone Bull job');
    await sleep(loneAt + 0.9 * RATE.windowMs - epochMs(performance.now()));
    await add(range(600, RATE.requests - 1));
    await waitFor(async () => (await arrivals()).length >= before + RATE.requests, 60_000, 'the Bull burst');
    const straddle = { times: (await arrivals()).slice(before) };
    return { steady, straddle };
  } finally {
    await Promise.all(queues.map((queue) => queue.close().catch(() => undefined)));
    await steam.stop();
    await dropKeys(prefix);
  }
}

async function dropKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    await deleteKeysUnder(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

/** Part (a): rate-limit fidelity with a small limit, steam-worker beside Bull's limiter. */
export async function rateLimitBench(progress: (line: string) => void): Promise<Row[]> {
  // Both sides are light (5 requests a second each) and have their own stand-in, queue and prefix.
  const [worker, bull] = await Promise.all([workerWorkloads(progress), bullWorkloads(progress)]);
  for (const [side, workloads] of [
    ['steam-worker', worker],
    ['Bull', bull],
  ] as const) {
    for (const [name, { times }] of Object.entries(workloads)) {
      if (times.length !== RATE.requests)
        throw new Error(`${side} ${name}: ${times.length} requests reached Steam, expected ${RATE.requests}`);
    }
  }
  if (process.env.BENCH_DEBUG) {
    for (const [side, workloads] of [
      ['steam-worker', worker],
      ['Bull', bull],
    ] as const) {
      for (const [name, { times }] of Object.entries(workloads)) {
        const sorted = [...times].sort((a, b) => a - b);
        progress(
          `${side} ${name} gaps (ms): ${sorted
            .slice(1)
            .map((time, index) => Math.round(time - sorted[index]!))
            .join(' ')}`,
        );
      }
    }
  }
  const { limit: L, windowMs: W } = RATE;
  const max = (arrivals: Arrivals) => maxInSlidingWindow(arrivals.times, W);
  const utilisation = (arrivals: Arrivals) => ideal(arrivals.times.length) / span(arrivals.times);
  const part = '(a)';
  return [
    {
      part,
      measure: `max Steam requests in any ${W} ms window, steady backlog`,
      worker: String(max(worker.steady)),
      comparison: `Bull limiter: ${max(bull.steady)}`,
      target: `<= ${L}`,
      ok: max(worker.steady) <= L,
    },
    {
      part,
      measure: `max Steam requests in any ${W} ms window, burst across a window edge`,
      worker: String(max(worker.straddle)),
      comparison: `Bull limiter: ${max(bull.straddle)} (2L-1 = ${2 * L - 1})`,
      target: `<= ${L}`,
      ok: max(worker.straddle) <= L,
    },
    {
      part,
      measure: 'utilisation = ideal/actual, steady backlog',
      worker: `${fixed(utilisation(worker.steady), 3)} (${fixed(span(worker.steady.times) / 1000, 2)} s)`,
      comparison: `Bull limiter: ${fixed(utilisation(bull.steady), 3)} (${fixed(span(bull.steady.times) / 1000, 2)} s)`,
      target: `>= 0.97 (ideal ${fixed(ideal(RATE.requests) / 1000, 1)} s)`,
      ok: utilisation(worker.steady) >= 0.97,
    },
  ];
}
