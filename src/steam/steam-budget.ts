import type { SteamRequest } from './steam-request';

/**
 * The budgets of an egress (docs/contract.md#rate-limit): Steam limits its
 * store (STEAM_STORE_URL) and its Web API (STEAM_API_URL) separately, so a
 * request counts against the budget of the host it calls, and a 429 from one
 * host cools only that budget.
 */
export type SteamBudget = 'store' | 'api';

export const STEAM_BUDGETS: readonly SteamBudget[] = ['store', 'api'];

/**
 * The budget a request uses. Exhaustive on purpose: a new request kind does
 * not compile until it says which host (and so which budget) it calls.
 */
export function budgetOf(request: SteamRequest): SteamBudget {
  switch (request.kind) {
    case 'appdetails':
    case 'appprices':
      return 'store';
    case 'applist':
    case 'appchanges':
    case 'storeitems':
      return 'api';
  }
}
