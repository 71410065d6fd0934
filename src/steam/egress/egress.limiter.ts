import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';

import { WorkerConfig } from '../../config/worker-config';
import { RedisClient } from '../../redis/redis.module';
import { COOL_DOWN, RENEW_LEASE, RESERVE_START } from './egress-limiter.lua';
import type { Egress } from './egress';

/**
 * Room left under Steam's limit for departure jitter: a start leaves the event
 * loop a moment after its reserved time, so starts are spaced 2 % wider than W/L.
 */
const SPACING_GUARD = 1.02;
/** How long a request waits at most before asking again while every egress is leased. */
const LEASE_RECHECK_US = 50_000;

export interface Reservation {
  egress: Egress;
  leaseId: string;
  /** Milliseconds until the reserved start. */
  startsInMs: number;
}

export type ReserveAnswer = { reservation: Reservation } | { retryInMs: number };

/**
 * The Redis side of the egress pool: per-egress spacing, leases and cooldowns,
 * shared by every worker process through the same keys under REDIS_PREFIX.
 */
@Injectable()
export class EgressLimiter {
  readonly spacingUs: number;
  readonly leaseTtlMs: number;

  constructor(
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
    private readonly redis: RedisClient,
  ) {
    const { rateWindowMs, rateLimit, timeoutMs } = config.steam;
    this.spacingUs = Math.ceil(((rateWindowMs * 1000) / rateLimit) * SPACING_GUARD);
    this.leaseTtlMs = timeoutMs + 5000;
  }

  async reserve(egresses: readonly Egress[]): Promise<ReserveAnswer> {
    const leaseId = randomUUID();
    const keys = egresses.flatMap((egress) => [
      this.redis.key('egress', egress.id, 'next'),
      this.leasesKey(egress),
      this.cooldownKey(egress),
    ]);
    const [index, waitUs] = (await this.redis.redis.eval(
      RESERVE_START,
      keys.length,
      ...keys,
      this.spacingUs,
      this.config.steam.egressConcurrency,
      this.leaseTtlMs * 1000,
      leaseId,
      LEASE_RECHECK_US,
    )) as [number, number];
    if (index === 0) return { retryInMs: Math.ceil(waitUs / 1000) };
    return { reservation: { egress: egresses[index - 1]!, leaseId, startsInMs: waitUs / 1000 } };
  }

  async renew(reservation: Reservation): Promise<boolean> {
    const renewed = await this.redis.redis.eval(
      RENEW_LEASE,
      1,
      this.leasesKey(reservation.egress),
      reservation.leaseId,
      this.leaseTtlMs * 1000,
    );
    return renewed === 1;
  }

  async release(reservation: Reservation): Promise<void> {
    await this.redis.redis.zrem(this.leasesKey(reservation.egress), reservation.leaseId);
  }

  /** Pauses an egress for `ms` unless it is already paused for longer; returns the end. */
  async coolDown(egress: Egress, ms: number): Promise<Date> {
    const untilUs = await this.redis.redis.eval(COOL_DOWN, 1, this.cooldownKey(egress), ms * 1000);
    return new Date(Number(untilUs) / 1000);
  }

  /** When the egress' cooldown ends, or `undefined` when it is not cooling down. */
  async cooldownEnd(egress: Egress): Promise<Date | undefined> {
    const untilUs = await this.redis.redis.get(this.cooldownKey(egress));
    const end = untilUs ? new Date(Number(untilUs) / 1000) : undefined;
    return end && end.getTime() > Date.now() ? end : undefined;
  }

  private leasesKey(egress: Egress): string {
    return this.redis.key('egress', egress.id, 'leases');
  }

  private cooldownKey(egress: Egress): string {
    return this.redis.key('egress', egress.id, 'cooldown');
  }
}
