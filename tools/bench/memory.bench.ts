import { Redis } from 'ioredis';

import { STEAM_QUEUE } from '../../src/steam/steam-queue.constants';
import { ReceivedMessage, waitFor } from '../../test/support/rmq';
import { isolatedNames, testEnvironment, watchQueues } from '../../test/support/worker.harness';
import { startLeanStandIns } from './lean-stand-ins';
import { deleteKeysUnder, memoryUnder, REDIS_URL, unfinishedJobs, usedMemory } from './redis-keys';
import { megabytes, Row, whole } from './report';
import { imageWorker, WorkerChild } from './worker-child';

export const BATCH = {
  apps: 10_000,
  countries: ['US', 'DE', 'GB', 'JP', 'BR'],
  /** STEAM_FEED_WINDOW's default: at most this many of the task's pairs are queued for Steam. */
  feedWindow: 32,
  sampleEveryMs: 100,
  /** The keys under the prefix are weighed every this many samples (SCAN + MEMORY USAGE). */
  weighEvery: 10,
  timeoutMs: 270_000,
} as const;

const MB = 1024 * 1024;

interface Peaks {
  rss: number;
  usedMemory: number;
  prefixBytes: number;
  jobs: number;
  samples: number;
}

/**
 * Samples the worker's RSS, Redis' `used_memory`, the bytes under the
 * worker's prefix and its unfinished Steam jobs, every `sampleEveryMs`.
 */
class Sampler {
  readonly peaks: Peaks = { rss: 0, usedMemory: 0, prefixBytes: 0, jobs: 0, samples: 0 };
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(
    private readonly worker: WorkerChild,
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), BATCH.sampleEveryMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await waitFor(() => !this.busy, 10_000, 'the last sample');
    await this.sample();
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const peaks = this.peaks;
      const [rss, used, jobs] = await Promise.all([
        this.worker.status('VmRSS').catch(() => 0),
        usedMemory(this.redis),
        unfinishedJobs(this.redis, this.prefix, STEAM_QUEUE),
      ]);
      peaks.rss = Math.max(peaks.rss, rss);
      peaks.usedMemory = Math.max(peaks.usedMemory, used);
      peaks.jobs = Math.max(peaks.jobs, jobs);
      if (peaks.samples++ % BATCH.weighEvery === 0) {
        peaks.prefixBytes = Math.max(peaks.prefixBytes, await memoryUnder(this.redis, this.prefix));
      }
    } catch {
      // A missed sample (Redis busy) is skipped; the next one comes 100 ms later.
    } finally {
      this.busy = false;
    }
  }
}

interface BatchResult {
  pattern: string;
  data: { taskId: string; updated: number[]; failed: unknown[] };
}

/**
 * Part (c): one 10,000-app × 5-country `apps.fetch` through the built worker
 * (`node dist/main.js`) with the limit lifted; its memory and Redis' are sampled.
 */

export async function memoryBench(progress: (line: string) => void): Promise<Row[]> {
  const names = isolatedNames('bench-batch');
  const standIns = await startLeanStandIns();
  const redis = new Redis(REDIS_URL);
  const queues = await watchQueues(names);
  const { worker, ready } = await imageWorker({
    ...testEnvironment(standIns, names),
    STEAM_EGRESS_CONCURRENCY: '64',
    STEAM_FEED_WINDOW: String(BATCH.feedWindow),
  });
  const sampler = new Sampler(worker, redis, names.REDIS_PREFIX);
  try {
    await ready();
    const baseline = await usedMemory(redis);
    const taskId = 'bench-batch';
    const appIds = Array.from({ length: BATCH.apps }, (_, index) => index + 1);
    progress(
      `(c) ${BATCH.apps} apps x ${BATCH.countries.length} countries through node dist/main.js (pid ${worker.pid})`,
    );
    sampler.start();
    const cpuBefore = await worker.cpuMs();
    const started = performance.now();
    queues.rabbit.publish(names.WORKER_QUEUE, {
      pattern: 'apps.fetch',
      data: { taskId, appIds, countries: BATCH.countries },
    });
    const report = setInterval(
      () =>
        progress(
          `(c) ${whole(standIns.backend.accepted)} pairs pushed, worker RSS peak ${megabytes(sampler.peaks.rss)}`,
        ),
      15_000,
    );
    let found: ReceivedMessage | undefined;
    try {
      found = await waitFor(
        () => {
          if (worker.child.exitCode !== null)
            throw new Error(`the worker exited during the batch: ${worker.stderr.trim()}`);
          return queues.results.find((message) => (message.body as BatchResult).data?.taskId === taskId);
        },
        BATCH.timeoutMs,
        'the batch result',
      );
    } catch (error) {
      if (worker.child.exitCode !== null) throw error;
      // Too slow on this machine now: report the memory seen so far all the same.
      progress(`(c) no result within ${BATCH.timeoutMs / 1000} s; reporting the peaks seen so far`);
    } finally {
      clearInterval(report);
    }
    const elapsedS = (performance.now() - started) / 1000;
    const cpuS = ((await worker.cpuMs()) - cpuBefore) / 1000;
    await sampler.stop();
    const hwm = await worker.status('VmHWM');
    const result = found?.body as BatchResult | undefined;
    const pairs = BATCH.apps * BATCH.countries.length;
    const complete =
      result?.pattern === 'apps.fetch.done' &&
      result.data.updated.length === BATCH.apps &&
      result.data.failed.length === 0;
    const outcome = !result
      ? `no result after ${elapsedS.toFixed(0)} s`
      : complete
        ? `${whole(pairs / elapsedS)} pairs/s (${elapsedS.toFixed(1)} s)`
        : `${result.data.updated?.length} updated, ${result.data.failed?.length} failed`;
    const { peaks } = sampler;
    const part = '(c)';
    return [
      {
        part,
        measure: `batch ${BATCH.apps} apps x ${BATCH.countries.length} countries: result and pace`,
        worker: outcome,
        comparison: `${whole(standIns.backend.accepted)} pairs pushed, ${whole(standIns.steam.answered)} Steam calls, worker CPU ${cpuS.toFixed(1)} s`,
        target: `${BATCH.apps} updated, 0 failed`,
        ok: complete && standIns.backend.accepted === pairs,
      },
      {
        part,
        measure: 'peak worker RSS (sampled VmRSS / VmHWM)',
        worker: megabytes(peaks.rss),
        comparison: `VmHWM ${megabytes(hwm)}`,
        target: '<= 200 MB',
        ok: Math.max(peaks.rss, hwm) <= 200 * MB,
      },
      {
        part,
        measure: 'peak Redis memory during the batch',
        worker: `${megabytes(peaks.prefixBytes)} under the prefix`,
        comparison: `used_memory +${megabytes(peaks.usedMemory - baseline)} (server-wide, shared)`,
        target: 'reported',
      },
      {
        part,
        measure: 'peak Steam jobs in Redis (wait + active + delayed)',
        worker: String(peaks.jobs),
        comparison: `${peaks.samples} samples; batch has ${whole(pairs)} pairs`,
        target: `<= feed window (${BATCH.feedWindow})`,
        ok: peaks.jobs <= BATCH.feedWindow && peaks.samples > 0,
      },
    ];
  } finally {
    await sampler.stop().catch(() => undefined);
    await worker.stop();
    await queues.rabbit.deleteQueues(names.WORKER_QUEUE, `${names.WORKER_QUEUE}.dlq`, names.ORCHESTRATOR_QUEUE);
    await queues.rabbit.close();
    await standIns.stop();
    await deleteKeysUnder(redis, names.REDIS_PREFIX);
    redis.disconnect();
  }
}
