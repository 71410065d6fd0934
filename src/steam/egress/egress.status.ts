import { STEAM_BUDGETS, SteamBudget } from '../steam-budget';
import type { Egress } from './egress';

export type EgressState = 'ready' | 'cooling' | 'failing';

/** One budget of an egress: cooling after a 429 (or a store 403) through it, until `until`. */
export interface BudgetStatus {
  state: 'ready' | 'cooling';
  until?: Date;
}

/**
 * An egress as the health details show it. `state` sums it up: 'failing'
 * while the proxy itself fails (both budgets paused), else 'cooling' while
 * either budget cools (until both are ready), else 'ready'.
 */
export interface EgressStatus {
  egress: Egress;
  state: EgressState;
  until?: Date;
  budgets: Record<SteamBudget, BudgetStatus>;
}

/**
 * Reads what Redis holds for `egress` (EGRESS_STATES, in this order: its
 * state and pause-until, then each budget's state and cooldown-until, µs or
 * null) as of `nowMs`. A pause that ran out is over even before a
 * reservation noticed it; a 'failing' egress stays so until a success.
 */
export function egressStatus(egress: Egress, values: readonly (string | null)[], nowMs: number): EgressStatus {
  const future = (us: string | null | undefined) => {
    const ms = Number(us || 0) / 1000;
    return ms > nowMs ? new Date(ms) : undefined;
  };
  const budgets = {} as Record<SteamBudget, BudgetStatus>;
  STEAM_BUDGETS.forEach((budget, i) => {
    const until = future(values[3 + 2 * i]);
    budgets[budget] = values[2 + 2 * i] === 'cooling' && until ? { state: 'cooling', until } : { state: 'ready' };
  });
  if (values[0] === 'failing') {
    const until = future(values[1]);
    return until ? { egress, state: 'failing', until, budgets } : { egress, state: 'failing', budgets };
  }
  const cooling = STEAM_BUDGETS.flatMap((budget) => budgets[budget].until?.getTime() ?? []);
  if (cooling.length === 0) return { egress, state: 'ready', budgets };
  return { egress, state: 'cooling', until: new Date(Math.max(...cooling)), budgets };
}
