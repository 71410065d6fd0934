import type { SteamFailure } from './steam.errors';

/**
 * The requests the Steam queue carries, one HTTP call each. New kinds (for
 * instance multi-app price requests) are added here and in SteamClient.
 */
export type SteamRequest = AppDetailsRequest | AppListPageRequest;

export interface AppDetailsRequest {
  kind: 'appdetails';
  appId: number;
  country: string;
}

export interface AppListPageRequest {
  kind: 'applist';
  /** Exclusive cursor: 0 for the first page, then the previous page's `last_appid`. */
  lastAppId: number;
}

export interface AppDetails {
  /** `false` when Steam answered `{"success": false}`: unknown or not sold there. */
  available: boolean;
  /** Steam's `data` object as received, or `null` when not available. */
  details: unknown;
}

export interface AppListPage {
  appIds: number[];
  /** Cursor of the next page, absent on the last page. */
  nextAppId?: number;
}

export type SteamResult<R extends SteamRequest> = R extends AppDetailsRequest ? AppDetails : AppListPage;

/**
 * What a Steam job resolves with, through Redis: the answer, Steam's failure
 * (see `fromOutcome` in steam.errors.ts), or `withdrawn` when its caller
 * cancelled it before it left (nobody waits for that one).
 */
export type SteamOutcome<T = unknown> =
  { ok: true; value: T } | { ok: false; failure: SteamFailure } | { ok: false; withdrawn: true };

export function describeRequest(request: SteamRequest): string {
  return request.kind === 'appdetails'
    ? `appdetails ${request.appId}/${request.country}`
    : `applist after ${request.lastAppId}`;
}
