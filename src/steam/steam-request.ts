import type { SteamFailure } from './steam.errors';

/**
 * The requests the Steam queue carries, one HTTP call each. New kinds are
 * added here and in SteamClient.
 */
export type SteamRequest =
  AppDetailsRequest | AppListPageRequest | AppChangesPageRequest | AppPricesRequest | StoreItemsRequest;

/**
 * A Steam job's data: the request, the attempts it made, and the log fields of
 * the task that asked for it (`taskId`, `pattern`), so that the processor's
 * lines carry them (docs/contract.md#logs). Steam itself never sees them.
 */
export type SteamJobData = SteamRequest & { requestsMade?: number; taskId?: string; pattern?: string };

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

/**
 * The prices of several apps in one country from the store: appdetails with
 * `filters=price_overview` (docs/contract.md#prices).
 */
export interface AppPricesRequest {
  kind: 'appprices';
  appIds: number[];
  country: string;
}

/**
 * Several apps' store items in one country from the Web API:
 * IStoreBrowseService/GetItems (docs/contract.md#prices).
 */
export interface StoreItemsRequest {
  kind: 'storeitems';
  appIds: number[];
  country: string;
}

/** A price as Steam gives it; amounts are integers in the currency's minor units. */
export interface SteamPrice {
  currency: string;
  /** Before the discount; equal to `final` when there is none. */
  initial: number;
  final: number;
  discountPercent: number;
  /** `""` when there is no discount, as appdetails writes it. */
  initialFormatted: string;
  finalFormatted: string;
  /** ISO 8601, only when Steam names the end of the discount (GetItems does). */
  discountEndsAt?: string;
}

/** What Steam says of one app's price in one country. */
export interface PriceQuote<Price = SteamPrice> {
  available: boolean;
  /** `null` when the answer cannot tell free from unpriced (appdetails' empty `data`). */
  isFree: boolean | null;
  /** `null` when the app is free, has no price, or is not available. */
  price: Price | null;
}

/** GetItems names no currency: the caller knows the country's. */
export type StoreItemQuote = PriceQuote<Omit<SteamPrice, 'currency'>>;

/**
 * One quote per app asked, in the order asked; `null` for an app the answer
 * lacks or garbles (a transient failure of that app alone).
 */
export interface AppPrices {
  quotes: (PriceQuote | null)[];
}

export interface StoreItems {
  quotes: (StoreItemQuote | null)[];
}

export type SteamResult<R extends SteamRequest> = R extends AppDetailsRequest
  ? AppDetails
  : R extends AppChangesPageRequest
    ? AppChangesPage
    : R extends AppPricesRequest
      ? AppPrices
      : R extends StoreItemsRequest
        ? StoreItems
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
    case 'appprices':
    case 'storeitems':
      return `${request.kind} of ${request.appIds.length} app(s) from ${request.appIds[0]}/${request.country}`;
  }
}
