import type { SteamFailure } from './steam.errors';

/**
 * The requests the Steam queue carries, one HTTP call each. New kinds (for
 * instance multi-app price requests) are added here and in SteamClient.
 */
export type SteamRequest = AppDetailsRequest | AppListPageRequest | AppChangesPageRequest;

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

/**
 * One page of GetAppList limited to apps modified since a time (`apps.changed`,
 * docs/contract.md#change-detection): the app list's call with `if_modified_since`,
 * on the Web API like it.
 */
export interface AppChangesPageRequest {
  kind: 'appchanges';
  /** Exclusive cursor, as for the app list. */
  lastAppId: number;
  /** Unix seconds, sent as `if_modified_since`. */
  ifModifiedSince: number;
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

/** An app GetAppList lists as modified, with Steam's own numbers. */
export interface ChangedApp {
  appId: number;
  /** `last_modified`, unix seconds. */
  lastModified: number;
  /** `price_change_number`. */
  priceChangeNumber: number;
}

export interface AppChangesPage {
  apps: ChangedApp[];
  /** Cursor of the next page, absent on the last page. */
  nextAppId?: number;
}

export type SteamResult<R extends SteamRequest> = R extends AppDetailsRequest
  ? AppDetails
  : R extends AppChangesPageRequest
    ? AppChangesPage
    : AppListPage;

/**
 * What a Steam job resolves with, through Redis: the answer, Steam's failure
 * (see `fromOutcome` in steam.errors.ts), or `withdrawn` when its caller
 * cancelled it before it left (nobody waits for that one).
 */
export type SteamOutcome<T = unknown> =
  { ok: true; value: T } | { ok: false; failure: SteamFailure } | { ok: false; withdrawn: true };

export function describeRequest(request: SteamRequest): string {
  switch (request.kind) {
    case 'appdetails':
      return `appdetails ${request.appId}/${request.country}`;
    case 'applist':
      return `applist after ${request.lastAppId}`;
    case 'appchanges':
      return `applist since ${request.ifModifiedSince} after ${request.lastAppId}`;
  }
}
