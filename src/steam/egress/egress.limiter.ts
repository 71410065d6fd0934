import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';

import { WorkerConfig } from '../../config/worker-config';
import { RedisClient, ScriptCall } from '../../redis/redis.module';
import type { Egress } from './egress';
import {
  CANCEL_REQUEST,
  DEPART,
  EGRESS_STATES,
  MARK_WORKING,
  PAUSE_EGRESS,
  RELEASE_LEASE,
  RENEW_LEASE,
  RESERVE_START,
} from './egress-limiter.lua';

/** How long a request waits at most before asking again while every egress is leased. */
const LEASE_RECHECK_US = 50_000;
/** A failing proxy's cooldown doubles per consecutive failure up to this many times STEAM_COOLDOWN_MS. */
const MAX_FAILURE_FACTOR = 10;
/** A cancelled request's mark lasts longer than any wait for a departure. */
const CANCELLATION_TTL_MS = 3_600_000;

export type EgressState = 'ready' | 'cooling' | 'failing';

export interface Reservation {
  egress: Egress;
  leaseId: string;
  /** Milliseconds until the reserved start. */
  startsInMs: number;
  /** The egress' state when it was reserved ('failing' ones are tried again after their cooldown). */
  state: EgressState;
  /** Whether the start was due at once and already passed the departure gate. */
  departed: boolean;
  /** performance.now() when the reservation was asked for (a departure it recorded is no older). */
  askedAt: number;
}

export type ReserveAnswer = ({ reservation: Reservation } | { retryInMs: number }) & {
  /** Egresses whose cooldown ran out, noticed by this call. */
  recovered: Egress[];
};

export interface StateChange {
  before: EgressState;
  after: EgressState;
  until: Date;
}

/**
 * The Redis side of the egress pool: per-egress spacing, leases, cooldowns
 * and health, shared by every worker process through keys under REDIS_PREFIX.
 */
@Injectable()
export class EgressLimiter {
  /** Reserved starts on one egress are (W + margin)/L apart: a steady flow, no bursts. */
  readonly spacingUs: number;
  /** The departure gate's window: W plus the margin (see DEPART). */
  readonly departureWindowUs: number;
  readonly leaseTtlMs: number;
  private readonly scripts: {
    reserveStart: ScriptCall<[number, number, EgressState, number[], number]>;
    depart: ScriptCall<number>;
    renewLease: ScriptCall<number>;
    releaseLease: ScriptCall<number>;
    pauseEgress: ScriptCall<[EgressState, EgressState, string]>;
    markWorking: ScriptCall<number>;
    egressStates: ScriptCall<(string | null)[]>;
    cancelRequest: ScriptCall<string>;
  };

  constructor(
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
    private readonly redis: RedisClient,
  ) {
    this.scripts = {
      reserveStart: redis.script(RESERVE_START),
      depart: redis.script(DEPART),
      renewLease: redis.script(RENEW_LEASE),
      releaseLease: redis.script(RELEASE_LEASE),
      pauseEgress: redis.script(PAUSE_EGRESS),
      markWorking: redis.script(MARK_WORKING),
      egressStates: redis.script(EGRESS_STATES),
      cancelRequest: redis.script(CANCEL_REQUEST),
    };
    const { rateWindowMs, rateLimit, rateMarginMs, timeoutMs } = config.steam;
    this.departureWindowUs = (rateWindowMs + rateMarginMs) * 1000;
    // The schedule keeps the gate's pace, so the gate only holds back starts that left late.
    this.spacingUs = Math.ceil(this.departureWindowUs / rateLimit);
    this.leaseTtlMs = timeoutMs + 5000;
  }

  async reserve(egresses: readonly Egress[]): Promise<ReserveAnswer> {
    const leaseId = randomUUID();
    const askedAt = performance.now();
    const keys = egresses.flatMap((egress) => [
      this.key(egress, 'next'),
      this.key(egress, 'leases'),
      this.key(egress, 'cooldown'),
      this.key(egress, 'state'),
      this.key(egress, 'departures'),
    ]);
    const [index, waitUs, state, recoveredIndexes, departed] = await this.scripts.reserveStart(
      keys,
      this.spacingUs,
      this.config.steam.egressConcurrency,
      this.leaseTtlMs * 1000,
      leaseId,
      LEASE_RECHECK_US,
      this.departureWindowUs,
      this.config.steam.rateLimit,
    );
    const recovered = recoveredIndexes.map((i) => egresses[i - 1]!);
    if (index === 0) return { retryInMs: Math.ceil(waitUs / 1000), recovered };
    const egress = egresses[index - 1]!;
    const reservation = { egress, leaseId, startsInMs: waitUs / 1000, state, departed: departed === 1, askedAt };
    return { reservation, recovered };
  }

  /**
   * Passes the departure gate right before the request leaves: resolves 0 when
   * it may leave now (recorded), `'cancelled'` when its caller withdrew it
   * ({@link cancel}), else the milliseconds to wait before asking again (the
   * egress' cooldown included).
   */
  async depart(reservation: Reservation, requestId: string): Promise<number | 'cancelled'> {
    const waitUs = await this.scripts.depart(
      [
        this.key(reservation.egress, 'departures'),
        this.key(reservation.egress, 'cooldown'),
        this.cancellationKey(requestId),
      ],
      this.departureWindowUs,
      this.config.steam.rateLimit,
      reservation.leaseId,
    );
    return waitUs < 0 ? 'cancelled' : waitUs / 1000;
  }

  /**
   * Withdraws a request that may already be waiting for its departure in any
   * process: the gate will never let it leave. The mark outlives any wait.
   */
  async cancel(requestId: string): Promise<void> {
    await this.scripts.cancelRequest([this.cancellationKey(requestId)], CANCELLATION_TTL_MS);
  }

  async renew(reservation: Reservation): Promise<boolean> {
    const renewed = await this.scripts.renewLease(
      [this.key(reservation.egress, 'leases')],
      reservation.leaseId,
      this.leaseTtlMs * 1000,
    );
    return renewed === 1;
  }

  async release(reservation: Reservation): Promise<void> {
    await this.scripts.releaseLease([this.key(reservation.egress, 'leases')], reservation.leaseId);
  }

  /** Steam said "too many" through this egress: pause it for `ms` (unless paused longer). */
  coolDown(egress: Egress, ms: number): Promise<StateChange> {
    return this.pause(egress, ms, 'cooling');
  }

  /** The proxy itself failed: pause it, doubling per consecutive failure, until a success. */
  markFailing(egress: Egress): Promise<StateChange> {
    return this.pause(egress, this.config.steam.cooldownMs, 'failing');
  }

  /** A request went through: a failing egress is ready again. Returns whether it was failing. */
  async markWorking(egress: Egress): Promise<boolean> {
    const wasFailing = await this.scripts.markWorking([this.key(egress, 'state'), this.key(egress, 'failures')]);
    return wasFailing === 1;
  }

  /** Each egress' state, for the health details. */
  async states(egresses: readonly Egress[]): Promise<{ egress: Egress; state: EgressState; until?: Date }[]> {
    const keys = egresses.flatMap((egress) => [this.key(egress, 'state'), this.key(egress, 'cooldown')]);
    const replies = await this.scripts.egressStates(keys);
    return egresses.map((egress, i) => {
      const state = (replies[2 * i] || 'ready') as EgressState;
      const untilUs = Number(replies[2 * i + 1] || 0);
      const until = untilUs / 1000 > Date.now() ? new Date(untilUs / 1000) : undefined;
      // A cooldown that ran out is over even before a reservation noticed it.
      if (state === 'ready' || (state === 'cooling' && !until)) return { egress, state: 'ready' };
      return until ? { egress, state, until } : { egress, state };
    });
  }

  private async pause(egress: Egress, ms: number, state: 'cooling' | 'failing'): Promise<StateChange> {
    const [before, after, untilUs] = await this.scripts.pauseEgress(
      [this.key(egress, 'cooldown'), this.key(egress, 'state'), this.key(egress, 'failures')],
      ms * 1000,
      state,
      MAX_FAILURE_FACTOR,
    );
    return { before, after, until: new Date(Number(untilUs) / 1000) };
  }

  private cancellationKey(requestId: string): string {
    return this.redis.key('steam-request', requestId, 'cancelled');
  }

  private key(egress: Egress, part: string): string {
    return this.redis.key('egress', egress.id, part);
  }
}
