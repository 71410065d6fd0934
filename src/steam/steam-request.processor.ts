import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { Job, Queue } from 'bull';

import { backoffDelay } from '../common/backoff';
import { sleep } from '../common/sleep';
import { WorkerConfig } from '../config/worker-config';
import { TaskLogContext } from '../logging/task-log.context';
import { WorkerMetrics } from '../metrics/worker.metrics';
import { DepartureGate } from './egress/departure.gate';
import { EgressLimiter, Reservation, StateChange } from './egress/egress.limiter';
import { EgressPool } from './egress/egress.pool';
import { STEAM_QUEUES } from './steam-queue.constants';
import { budgetOf } from './steam-budget';
import { SteamClient } from './steam.client';
import {
  asSteamError,
  RetryLater,
  SteamError,
  steamFailureAction,
  SteamRateLimitedError,
  SteamRequestCancelledError,
  SteamRequestHandedBackError,
} from './steam.errors';
import { describeRequest, SteamJobData, SteamOutcome } from './steam-request';

/** Longest single sleep while waiting for an egress, so that a closing queue is noticed. */
const MAX_WAIT_SLICE_MS = 1000;
/** Pause before asking the limiter again after Redis failed to answer. */
const LIMITER_RETRY_MS = 1000;

type SteamJob = Job<SteamJobData>;

/**
 * Runs each Steam job of both queues (one per budget): waits for a slot on
 * the request's budget of an egress (spacing, lease, cooldown in Redis), makes
 * the one HTTP call, and decides what a failure leads to. Every attempt is a
 * job run and so passes the limiter again. Only Steam's own answers are Steam
 * failures: when Redis cannot answer the limiter, the job waits or goes back
 * to the queue without using an attempt.
 */
@Injectable()
export class SteamRequestProcessor implements OnModuleInit {
  private readonly logger = new Logger(SteamRequestProcessor.name);
  /** One per job this process is running: aborted when the worker stops. */
  private readonly running = new Set<AbortController>();
  private stopping = false;
  private readonly queues: readonly Queue[];

  constructor(
    @InjectQueue(STEAM_QUEUES.store) storeQueue: Queue,
    @InjectQueue(STEAM_QUEUES.api) apiQueue: Queue,
    private readonly client: SteamClient,
    private readonly limiter: EgressLimiter,
    private readonly pool: EgressPool,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
    private readonly metrics: WorkerMetrics,
    private readonly taskLog: TaskLogContext,
  ) {
    this.queues = [storeQueue, apiQueue];
  }

  onModuleInit(): void {
    // Per budget, one slot per start the pool can reserve on it, so this
    // process alone can fill every egress; more would only wait in the limiter.
    const concurrency = this.pool.egresses.length * this.config.steam.egressConcurrency;
    // Bull runs a job outside its task's async context: re-entered from the job's data (docs/contract.md#logs).
    for (const queue of this.queues) {
      void queue.process('*', concurrency, (job: SteamJob) => this.taskLog.run(job.data, () => this.process(job)));
    }
  }

  /**
   * Shutdown: takes no further job and hands back the ones running, aborting
   * their HTTP calls, so that Bull's close() does not wait for a slow Steam.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const controller of this.running)
      controller.abort(new SteamRequestHandedBackError('the worker is shutting down'));
    await Promise.all(this.queues.map((queue) => queue.pause(true, true).catch(() => undefined)));
  }

  async process(job: SteamJob): Promise<SteamOutcome> {
    const stopped = new AbortController();
    this.running.add(stopped);
    try {
      return await this.processOnce(job, stopped.signal);
    } catch (thrown) {
      if (stopped.signal.aborted || thrown instanceof SteamRequestHandedBackError) {
        throw new RetryLater(`${describeRequest(job.data)} handed back: the worker is stopping`, 0);
      }
      throw thrown;
    } finally {
      this.running.delete(stopped);
    }
  }

  private async processOnce(job: SteamJob, signal: AbortSignal): Promise<SteamOutcome> {
    const reservation = await this.waitForEgress(job, signal);
    const renewal = setInterval(
      () => void this.limiter.renew(reservation).catch(() => undefined),
      this.limiter.leaseTtlMs / 3,
    );
    try {
      // setTimeout never fires in under 1 ms: a start that is due now does not wait.
      if (reservation.startsInMs >= 1) await sleep(reservation.startsInMs, signal);
      const { marginMs } = this.config.steam.budgets[reservation.budget];
      const gate = new DepartureGate(this.limiter, reservation, String(job.id), marginMs);
      // Through the gate now, and again at the socket if the request got there late.
      await this.untilRedisAnswers(() => gate.pass(signal), signal);
      const beforeSend = () => gate.pass(signal);
      const call = this.client.call(job.data, reservation.egress, { beforeSend, signal });
      const value = await this.metrics.steamCall(job, reservation, call);
      if (gate.lateDepartures > 0) {
        this.logger.debug(`${describeRequest(job.data)} reached its socket late; passed the gate again`);
      }
      if (reservation.state === 'failing') await this.onEgressWorking(reservation);
      return { ok: true, value };
    } catch (thrown) {
      if (thrown instanceof SteamRequestCancelledError) return { ok: false, withdrawn: true };
      if (signal.aborted) throw thrown;
      // The gate at the socket could not reach Redis (nothing was sent), or Redis failed us after the answer.
      if (!(thrown instanceof SteamError)) {
        throw new RetryLater(`limiter unavailable: ${(thrown as Error)?.message}`, LIMITER_RETRY_MS);
      }
      return await this.onFailure(job, reservation, thrown);
    } finally {
      clearInterval(renewal);
      // Not awaited: this process' next reservation goes out on the same Redis
      // connection after it, and a lost release only waits for the lease's expiry.
      void this.limiter.release(reservation).catch(() => undefined);
    }
  }

  private async waitForEgress(job: SteamJob, signal: AbortSignal): Promise<Reservation> {
    const budget = budgetOf(job.data);
    for (;;) {
      if (this.stopping || isClosing(job.queue)) {
        throw new RetryLater(`queue closing; ${describeRequest(job.data)} handed back`, 0);
      }
      const answer = await this.untilRedisAnswers(() => this.limiter.reserve(this.pool.egresses, budget), signal);
      for (const egress of answer.recovered) {
        this.logger.log(`Egress ${egress.label}: its ${budget} budget is ready (cooldown over)`);
      }
      if ('reservation' in answer) return answer.reservation;
      await sleep(Math.min(answer.retryInMs, MAX_WAIT_SLICE_MS), signal);
    }
  }

  /**
   * Runs a limiter call until Redis answers it: an outage makes the request
   * wait (no attempt used, no Steam failure), however long it lasts.
   */
  private async untilRedisAnswers<T>(call: () => Promise<T>, signal: AbortSignal): Promise<T> {
    for (let failures = 0; ; failures++) {
      try {
        return await call();
      } catch (error) {
        if (error instanceof SteamRequestCancelledError || signal.aborted) throw error;
        if (failures === 0) this.logger.warn(`Egress limiter unavailable, waiting: ${(error as Error).message}`);
        await sleep(LIMITER_RETRY_MS, signal);
      }
    }
  }

  private async onFailure(job: SteamJob, reservation: Reservation, thrown: unknown): Promise<SteamOutcome> {
    const error = asSteamError(thrown);
    const action = steamFailureAction(error.kind);
    if (action.pauseEgress) await this.pauseEgress(reservation, action.pauseEgress, error);
    if (!action.retry) {
      return { ok: false, failure: error.toFailure() };
    }
    if (!action.usesAttempt) {
      // Another egress takes it at once; the limiter makes it wait if there is none.
      throw new RetryLater(error.message, 0);
    }
    const requestsMade = (job.data.requestsMade ?? 0) + 1;
    const { retry } = this.config.steam;
    if (requestsMade >= retry.maxAttempts) {
      return { ok: false, failure: error.toFailure(` (after ${requestsMade} attempts)`) };
    }
    await job.update({ ...job.data, requestsMade });
    this.logger.debug(`${describeRequest(job.data)} attempt ${requestsMade} failed: ${error.message}`);
    throw new RetryLater(error.message, backoffDelay(retry, requestsMade));
  }

  /** A 429 (or a store 403) cools the budget it came from; a failing proxy pauses the whole egress. */
  private async pauseEgress(reservation: Reservation, state: 'cooling' | 'failing', error: SteamError): Promise<void> {
    const { egress, budget } = reservation;
    const what = state === 'failing' ? `Egress ${egress.label}` : `Egress ${egress.label}'s ${budget} budget`;
    const change = await this.changeState(reservation, state, error).catch((redisError: Error) => {
      this.logger.warn(`Could not pause ${what}: ${redisError.message}`);
      return undefined;
    });
    if (change && change.before !== change.after) {
      this.logger.warn(`${what} is ${change.after} until ${change.until.toISOString()}: ${error.message}`);
    }
  }

  private changeState(reservation: Reservation, state: 'cooling' | 'failing', error: SteamError): Promise<StateChange> {
    if (state === 'failing') return this.limiter.markFailing(reservation.egress);
    const retryAfterMs = error instanceof SteamRateLimitedError ? error.retryAfterMs : undefined;
    return this.limiter.coolDown(reservation.egress, reservation.budget, retryAfterMs ?? this.config.steam.cooldownMs);
  }

  private async onEgressWorking(reservation: Reservation): Promise<void> {
    if (await this.limiter.markWorking(reservation.egress).catch(() => false)) {
      this.logger.log(`Egress ${reservation.egress.label} is ready again`);
    }
  }
}

/** Bull sets `closing` while `close()` runs; its typings omit it. */
function isClosing(queue: Queue): boolean {
  return Boolean((queue as Queue & { closing?: Promise<void> }).closing);
}
