import type { RateBudget } from '../../config/worker-config';
import type { SteamBudget } from '../steam-budget';
import type { Egress } from './egress';
import type { EgressState } from './egress.status';

/** A request's place on a budget of an egress, as the limiter hands it out. */
export interface Reservation {
  egress: Egress;
  /** The budget of the egress the request counts against (`budgetOf`). */
  budget: SteamBudget;
  leaseId: string;
  /** Milliseconds until the reserved start. */
  startsInMs: number;
  /** The egress' state when it was reserved ('failing' ones are tried again after their pause). */
  state: EgressState;
  /** Whether the start was due at once and already passed the departure gate. */
  departed: boolean;
  /** performance.now() when the reservation was asked for (a departure it recorded is no older). */
  askedAt: number;
}

export type ReserveAnswer = ({ reservation: Reservation } | { retryInMs: number }) & {
  /** Egresses whose cooldown of the budget asked for ran out, noticed by this call. */
  recovered: Egress[];
};

export interface StateChange {
  before: EgressState;
  after: EgressState;
  until: Date;
}

/** How one budget paces every egress, in µs of Redis' clock. */
export interface Pace {
  /** Reserved starts are (W + margin)/L apart: a steady flow, no bursts. */
  spacingUs: number;
  /** The departure gate's window: W plus the margin (see DEPART). */
  departureWindowUs: number;
  limit: number;
}

export function paceOf({ limit, windowMs, marginMs }: RateBudget): Pace {
  const departureWindowUs = (windowMs + marginMs) * 1000;
  // The schedule keeps the gate's pace, so the gate only holds back starts that left late.
  return { spacingUs: Math.ceil(departureWindowUs / limit), departureWindowUs, limit };
}
