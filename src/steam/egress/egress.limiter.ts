import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';

import { WorkerConfig } from '../../config/worker-config';
import { RedisClient, ScriptCall } from '../../redis/redis.module';
import { STEAM_BUDGETS, SteamBudget } from '../steam-budget';
import type { Egress } from './egress';
import { CANCEL_REQUEST, DEPART, RELEASE_LEASE, RENEW_LEASE, RESERVE_START } from './egress-limiter.lua';
import { COOL_DOWN_BUDGET, EGRESS_STATES, MARK_FAILING, MARK_WORKING } from './egress-states.lua';
import { EgressState, EgressStatus, egressStatus } from './egress.status';
import { Pace, paceOf, Reservation, ReserveAnswer, StateChange } from './reservation';

export type { EgressState } from './egress.status';
export type { Pace, Reservation, ReserveAnswer, StateChange } from './reservation';

/** How long a request waits at most before asking again while reservations or leases are full. */
const LEASE_RECHECK_US = 50_000;
/** A failing proxy's pause doubles per consecutive failure up to this many times STEAM_COOLDOWN_MS. */
const MAX_FAILURE_FACTOR = 10;
/** A cancelled request's mark lasts longer than any wait for a departure. */
const CANCELLATION_TTL_MS = 3_600_000;

/**
 * The Redis side of the egress pool: per budget of each egress its spacing,
 * reservations, departure log and cooldown; per egress its leases (requests
 * in flight) and failing state; shared by every worker process through keys
 * under REDIS_PREFIX.
 */
@Injectable()
export class EgressLimiter {
  readonly paces: Readonly<Record<SteamBudget, Pace>>;
  readonly leaseTtlMs: number;
  private readonly scripts: {
    reserveStart: ScriptCall<[number, number, EgressState, number[], number]>;
    depart: ScriptCall<number>;
    renewLease: ScriptCall<number>;
    releaseLease: ScriptCall<number>;
    coolDownBudget: ScriptCall<[EgressState, EgressState, string]>;
    markFailing: ScriptCall<[EgressState, EgressState, string]>;
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
      coolDownBudget: redis.script(COOL_DOWN_BUDGET),
      markFailing: redis.script(MARK_FAILING),
      markWorking: redis.script(MARK_WORKING),
      egressStates: redis.script(EGRESS_STATES),
      cancelRequest: redis.script(CANCEL_REQUEST),
    };
    const { budgets } = config.steam;
    this.paces = { store: paceOf(budgets.store), api: paceOf(budgets.api) };
    this.leaseTtlMs = config.steam.timeoutMs + 5000;
  }

  /** Reserves a start on `budget` of the free egress whose next start on it comes first. */
  async reserve(egresses: readonly Egress[], budget: SteamBudget): Promise<ReserveAnswer> {
    const leaseId = randomUUID();
    const askedAt = performance.now();
    const pace = this.paces[budget];
    const keys = egresses.flatMap((egress) => [
      this.budgetKey(egress, budget, 'next'),
      this.budgetKey(egress, budget, 'cooldown'),
      this.budgetKey(egress, budget, 'state'),
      this.budgetKey(egress, budget, 'departures'),
      this.budgetKey(egress, budget, 'reservations'),
      this.key(egress, 'leases'),
      this.key(egress, 'pause'),
      this.key(egress, 'state'),
    ]);
    const [index, waitUs, state, recoveredIndexes, departed] = await this.scripts.reserveStart(
      keys,
      pace.spacingUs,
      this.config.steam.egressConcurrency,
      this.leaseTtlMs * 1000,
      leaseId,
      LEASE_RECHECK_US,
      pace.departureWindowUs,
      pace.limit,
    );
    const recovered = recoveredIndexes.map((i) => egresses[i - 1]!);
    if (index === 0) return { retryInMs: Math.ceil(waitUs / 1000), recovered };
    const egress = egresses[index - 1]!;
    const reservation: Reservation = {
      egress,
      budget,
      leaseId,
      startsInMs: waitUs / 1000,
      // Only the egress' own 'failing' matters to its holder (a success ends it).
      state: state === 'failing' ? 'failing' : 'ready',
      departed: departed === 1,
      askedAt,
    };
    return { reservation, recovered };
  }

  /**
   * Passes the departure gate of the reservation's budget right before the
   * request leaves: resolves 0 when it may leave now (recorded, and holding a
   * lease of the egress), `'cancelled'` when its caller withdrew it
   * ({@link cancel}), else the milliseconds to wait before asking again (a
   * cooldown, a pause or full leases included).
   */
  async depart(reservation: Reservation, requestId: string): Promise<number | 'cancelled'> {
    const { egress, budget } = reservation;
    const pace = this.paces[budget];
    const waitUs = await this.scripts.depart(
      [
        this.budgetKey(egress, budget, 'departures'),
        this.budgetKey(egress, budget, 'cooldown'),
        this.key(egress, 'pause'),
        this.key(egress, 'leases'),
        this.cancellationKey(requestId),
      ],
      pace.departureWindowUs,
      pace.limit,
      reservation.leaseId,
      this.config.steam.egressConcurrency,
      this.leaseTtlMs * 1000,
      LEASE_RECHECK_US,
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

  /** Extends the reservation (and the lease, once the request left) while the request runs. */
  async renew(reservation: Reservation): Promise<boolean> {
    const renewed = await this.scripts.renewLease(
      this.holdings(reservation),
      reservation.leaseId,
      this.leaseTtlMs * 1000,
    );
    return renewed === 1;
  }

  /** The request is over: its budget may reserve, and its egress carry, the next one at once. */
  async release(reservation: Reservation): Promise<void> {
    await this.scripts.releaseLease(this.holdings(reservation), reservation.leaseId);
  }

  /** Steam said "too many" on `budget` through this egress: pause that budget for `ms` (unless paused longer). */
  async coolDown(egress: Egress, budget: SteamBudget, ms: number): Promise<StateChange> {
    const keys = [this.budgetKey(egress, budget, 'cooldown'), this.budgetKey(egress, budget, 'state')];
    return stateChange(await this.scripts.coolDownBudget(keys, ms * 1000));
  }

  /** The proxy itself failed: pause the egress (both budgets), doubling per consecutive failure, until a success. */
  async markFailing(egress: Egress): Promise<StateChange> {
    const keys = [this.key(egress, 'pause'), this.key(egress, 'state'), this.key(egress, 'failures')];
    return stateChange(await this.scripts.markFailing(keys, this.config.steam.cooldownMs * 1000, MAX_FAILURE_FACTOR));
  }

  /** A request went through: a failing egress is ready again. Returns whether it was failing. */
  async markWorking(egress: Egress): Promise<boolean> {
    const wasFailing = await this.scripts.markWorking([this.key(egress, 'state'), this.key(egress, 'failures')]);
    return wasFailing === 1;
  }

  /** Each egress' state and its budgets', for the health details. */
  async states(egresses: readonly Egress[]): Promise<EgressStatus[]> {
    const keys = egresses.flatMap((egress) => [
      this.key(egress, 'state'),
      this.key(egress, 'pause'),
      ...STEAM_BUDGETS.flatMap((budget) => [
        this.budgetKey(egress, budget, 'state'),
        this.budgetKey(egress, budget, 'cooldown'),
      ]),
    ]);
    const values = await this.scripts.egressStates(keys);
    const perEgress = keys.length / egresses.length;
    const now = Date.now();
    return egresses.map((egress, i) => egressStatus(egress, values.slice(i * perEgress, (i + 1) * perEgress), now));
  }

  /** Where a request holds its place: its budget's reservations, its egress' leases. */
  private holdings({ egress, budget }: Reservation): string[] {
    return [this.budgetKey(egress, budget, 'reservations'), this.key(egress, 'leases')];
  }

  private cancellationKey(requestId: string): string {
    return this.redis.key('steam-request', requestId, 'cancelled');
  }

  /** A key of the egress as a whole: leases, pause, state ('failing'), failures. */
  private key(egress: Egress, part: string): string {
    return this.redis.key('egress', egress.id, part);
  }

  /** A key of one budget of the egress: next, reservations, departures, cooldown, state ('cooling'). */
  private budgetKey(egress: Egress, budget: SteamBudget, part: string): string {
    return this.redis.key('egress', egress.id, budget, part);
  }
}

function stateChange([before, after, untilUs]: [EgressState, EgressState, string]): StateChange {
  return { before, after, until: new Date(Number(untilUs) / 1000) };
}
