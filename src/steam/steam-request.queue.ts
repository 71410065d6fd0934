import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { JobCounts, Queue } from 'bull';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';

import { sleep } from '../common/sleep';
import { currentTaskLogFields } from '../logging/task-log.context';
import { EgressLimiter } from './egress/egress.limiter';
import { STEAM_JOB_OPTIONS, STEAM_QUEUES } from './steam-queue.constants';
import { budgetOf, SteamBudget } from './steam-budget';
import { fromOutcome } from './steam.errors';
import type { SteamJobData, SteamOutcome, SteamRequest, SteamResult } from './steam-request';

/** Pause before adding a job again, or running a failed one again, after Redis failed. */
const REDIS_RETRY_MS = 1000;

interface Waiter {
  /** What to add again if Redis comes back without the job. */
  request: SteamJobData;
  resolve: (outcome: SteamOutcome) => void;
  reject: (error: Error) => void;
}

/**
 * The producer side of the Steam queues (one per budget): `request()` adds
 * one job to its budget's queue and resolves with its answer. One pair of
 * Bull listeners per queue serves every waiting caller of the process (a map
 * from job id to its promise), instead of one `job.finished()` each, which
 * would cost O(waiting) per completion.
 *
 * Only Steam's own answers end a request in a SteamError: a job that Bull
 * failed for any other reason (Redis errors in the limiter, stalled too often)
 * is run again, and a job that cannot be added while Redis is away is added
 * once it is back. The caller waits; no Steam failure is reported.
 */
@Injectable()
export class SteamRequestQueue implements OnModuleInit {
  private readonly logger = new Logger(SteamRequestQueue.name);
  private readonly waiters = new Map<string, Waiter>();
  private readonly queues: Readonly<Record<SteamBudget, Queue>>;

  constructor(
    @InjectQueue(STEAM_QUEUES.store) storeQueue: Queue,
    @InjectQueue(STEAM_QUEUES.api) apiQueue: Queue,
    private readonly limiter: EgressLimiter,
  ) {
    this.queues = { store: storeQueue, api: apiQueue };
  }

  async onModuleInit(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((queue) => this.listen(queue)));
  }

  private async listen(queue: Queue): Promise<void> {
    queue.on('global:completed', (jobId: string, value: unknown) => {
      // Every process hears every completion: parse only the answers this one waits for.
      if (this.waiters.has(jobId)) this.settle(jobId, parse(value));
    });
    queue.on('global:failed', (jobId: string, reason: unknown) => {
      if (this.waiters.has(jobId)) void this.runAgain(jobId, String(reason));
    });
    queue.on('error', (error: Error) => this.logger.warn(`Steam queue: ${error.message}`));
    await queue.isReady();
    // Completions announced while the subscriber was reconnecting are lost:
    // read the outcome of every waiting job from Redis again.
    (queue as Queue & { eclient: Redis }).eclient.on('ready', () => void this.reconcile(queue));
  }

  /**
   * Resolves with Steam's answer; rejects with a SteamError when Steam kept
   * failing or refused for good, or with the signal's reason when aborted
   * (the job is then taken back if it has not started).
   */
  async request<R extends SteamRequest>(request: R, signal?: AbortSignal): Promise<SteamResult<R>> {
    signal?.throwIfAborted();
    const jobId = randomUUID();
    const data: SteamJobData = { ...request, ...currentTaskLogFields() };
    const outcome = new Promise<SteamOutcome>((resolve, reject) =>
      this.waiters.set(jobId, { request: data, resolve, reject }),
    );
    // It may settle (abort) while the job is still being added; it is awaited below.
    outcome.catch(() => undefined);
    const onAbort = () => {
      this.waiters.get(jobId)?.reject(signal!.reason as Error);
      // Taken off the queue if no process has it yet, else stopped at the departure gate.
      void this.queueOf(request)
        .getJob(jobId)
        .then((job) => job?.remove())
        .catch(() => this.limiter.cancel(jobId))
        .catch(() => undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.add(data, jobId, signal);
      return fromOutcome(await outcome) as SteamResult<R>;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.waiters.delete(jobId);
    }
  }

  /** The jobs of `budget`'s queue per state, as Bull counts them in Redis (for /metrics). */
  jobCounts(budget: SteamBudget): Promise<JobCounts & { paused?: number }> {
    return this.queues[budget].getJobCounts();
  }

  /** Adds the job, waiting while Redis is away (adding it twice under one id is a no-op). */
  private async add(request: SteamJobData, jobId: string, signal?: AbortSignal): Promise<void> {
    for (let failures = 0; ; failures++) {
      try {
        await this.queueOf(request).add(request.kind, request, { ...STEAM_JOB_OPTIONS, jobId });
        return;
      } catch (error) {
        signal?.throwIfAborted();
        if (failures === 0) this.logger.warn(`Cannot add a Steam job, waiting for Redis: ${(error as Error).message}`);
        await sleep(REDIS_RETRY_MS, signal);
      }
    }
  }

  /** A job Bull failed for a reason that is not Steam's: run it again, its data (attempts made) kept. */
  private async runAgain(jobId: string, reason: string): Promise<void> {
    this.logger.warn(`Steam job ${jobId} failed outside Steam (${reason}); running it again`);
    for (;;) {
      await sleep(REDIS_RETRY_MS);
      const waiter = this.waiters.get(jobId);
      if (!waiter) return;
      try {
        const job = await this.queueOf(waiter.request).getJob(jobId);
        if (!job) return void (await this.add(waiter.request, jobId));
        if (await job.isFailed()) await job.retry();
        return;
      } catch (error) {
        this.logger.debug(`Could not run Steam job ${jobId} again yet: ${(error as Error).message}`);
      }
    }
  }

  private settle(jobId: string, outcome: SteamOutcome): void {
    this.waiters.get(jobId)?.resolve(outcome);
  }

  /** Each budget's requests wait in a queue of their own (see STEAM_QUEUES). */
  private queueOf(request: SteamRequest): Queue {
    return this.queues[budgetOf(request)];
  }

  private async reconcile(queue: Queue): Promise<void> {
    for (const [jobId, waiter] of [...this.waiters]) {
      if (this.queueOf(waiter.request) !== queue) continue;
      const job = await queue.getJob(jobId).catch(() => undefined);
      // Redis away again: the next 'ready' reconciles.
      if (job === undefined) continue;
      if (job === null) {
        // Redis came back without the job (restarted empty, failed over): nobody
        // would ever answer this caller. Add it again under the same id.
        this.logger.warn(`Steam job ${jobId} lost with Redis; adding it again`);
        await queue
          .add(waiter.request.kind, waiter.request, { ...STEAM_JOB_OPTIONS, jobId })
          .catch((error: Error) => this.logger.warn(`Could not add a lost Steam job again: ${error.message}`));
        continue;
      }
      const state = await job.getState().catch(() => undefined);
      if (state === 'completed') this.settle(jobId, job.returnvalue as SteamOutcome);
      if (state === 'failed') void this.runAgain(jobId, job.failedReason ?? 'failed');
    }
  }
}

function parse(value: unknown): SteamOutcome {
  return (typeof value === 'string' ? JSON.parse(value) : value) as SteamOutcome;
}
