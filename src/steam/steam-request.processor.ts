import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { Job, Queue } from 'bull';

import { backoffDelay } from '../common/backoff';
import { sleep } from '../common/sleep';
import { WorkerConfig } from '../config/worker-config';
import { EgressLimiter, Reservation } from './egress/egress.limiter';
import { EgressPool } from './egress/egress.pool';
import { RetryLater, STEAM_QUEUE } from './steam-queue.constants';
import { SteamClient } from './steam.client';
import type { Egress } from './egress/egress';
import { asSteamError, SteamError, steamFailureAction, SteamRateLimitedError } from './steam.errors';
import { describeRequest, SteamOutcome, SteamRequest } from './steam-request';

/** Longest single sleep while waiting for an egress, so that a closing queue is noticed. */
const MAX_WAIT_SLICE_MS = 1000;

type SteamJob = Job<SteamRequest & { requestsMade?: number }>;

/**
 * Runs each Steam job: waits for an egress slot (spacing, lease, cooldown in
 * Redis), makes the one HTTP call, and decides what a failure leads to. Every
 * attempt is a job run and so passes the limiter again.
 */
@Injectable()
export class SteamRequestProcessor implements OnModuleInit {
  private readonly logger = new Logger(SteamRequestProcessor.name);

  constructor(
    @InjectQueue(STEAM_QUEUE) private readonly queue: Queue,
    private readonly client: SteamClient,
    private readonly limiter: EgressLimiter,
    private readonly pool: EgressPool,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
  ) {}

  onModuleInit(): void {
    // One slot per lease the pool can grant, so this process alone can fill
    // every egress; more would only wait in the limiter.
    const concurrency = this.pool.egresses.length * this.config.steam.egressConcurrency;
    void this.queue.process('*', concurrency, (job: SteamJob) => this.process(job));
  }

  async process(job: SteamJob): Promise<SteamOutcome> {
    const reservation = await this.waitForEgress(job);
    const renewal = setInterval(
      () => void this.limiter.renew(reservation).catch(() => undefined),
      this.limiter.leaseTtlMs / 3,
    );
    try {
      await this.waitForDeparture(reservation);
      const value = await this.client.call(job.data, reservation.egress);
      if (reservation.state === 'failing') await this.onEgressWorking(reservation);
      return { ok: true, value };
    } catch (thrown) {
      return await this.onFailure(job, reservation, thrown);
    } finally {
      clearInterval(renewal);
      // Not awaited: this process' next reservation goes out on the same Redis
      // connection after it, and a lost release only waits for the lease's expiry.
      void this.limiter.release(reservation).catch(() => undefined);
    }
  }

  private async waitForEgress(job: SteamJob): Promise<Reservation> {
    for (;;) {
      if (isClosing(this.queue)) throw new RetryLater(`queue closing; ${describeRequest(job.data)} handed back`, 0);
      const answer = await this.limiter.reserve(this.pool.egresses);
      for (const egress of answer.recovered) this.logger.log(`Egress ${egress.label} is ready (cooldown over)`);
      if ('reservation' in answer) return answer.reservation;
      await sleep(Math.min(answer.retryInMs, MAX_WAIT_SLICE_MS));
    }
  }

  /** Until the reserved start, then through the departure gate, unless the reservation passed it already. */
  private async waitForDeparture(reservation: Reservation): Promise<void> {
    if (reservation.departed) return;
    // setTimeout never fires in under 1 ms: a start that is due now does not wait.
    if (reservation.startsInMs >= 1) await sleep(reservation.startsInMs);
    // The reserved start may have passed a while ago (a busy event loop):
    // the departure gate has the last word on when the request leaves.
    for (let waitMs = await this.limiter.depart(reservation); waitMs > 0;) {
      await sleep(waitMs);
      waitMs = await this.limiter.depart(reservation);
    }
  }

  private async onFailure(job: SteamJob, reservation: Reservation, thrown: unknown): Promise<SteamOutcome> {
    const error = asSteamError(thrown);
    const action = steamFailureAction(error.kind);
    if (action.pauseEgress) await this.pauseEgress(reservation.egress, action.pauseEgress, error);
    if (!action.retry) {
      return { ok: false, kind: error.kind === 'key_refused' ? 'key_refused' : 'permanent', message: error.message };
    }
    if (!action.usesAttempt) {
      // Another egress takes it at once; the limiter makes it wait if there is none.
      throw new RetryLater(error.message, 0);
    }
    const requestsMade = (job.data.requestsMade ?? 0) + 1;
    const { retry } = this.config.steam;
    if (requestsMade >= retry.maxAttempts) {
      return { ok: false, kind: 'exhausted', message: `${error.message} (after ${requestsMade} attempts)` };
    }
    await job.update({ ...job.data, requestsMade });
    this.logger.debug(`${describeRequest(job.data)} attempt ${requestsMade} failed: ${error.message}`);
    throw new RetryLater(error.message, backoffDelay(retry, requestsMade));
  }

  private async pauseEgress(egress: Egress, state: 'cooling' | 'failing', error: SteamError): Promise<void> {
    const change =
      state === 'failing'
        ? await this.limiter.markFailing(egress)
        : await this.limiter.coolDown(
            egress,
            (error instanceof SteamRateLimitedError ? error.retryAfterMs : undefined) ?? this.config.steam.cooldownMs,
          );
    if (change.before !== change.after) {
      this.logger.warn(
        `Egress ${egress.label} is ${change.after} until ${change.until.toISOString()}: ${error.message}`,
      );
    }
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
