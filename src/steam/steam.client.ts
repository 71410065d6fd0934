import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AxiosResponse } from 'axios';
import type { ClientRequest } from 'node:http';

import { describeNetworkError } from '../common/network-error';
import { WorkerConfig } from '../config/worker-config';
import { loggedCall } from '../logging/call.log';
import type { Egress } from './egress/egress';
import {
  SteamBadRequestError,
  SteamEgressError,
  SteamKeyRefusedError,
  SteamPermanentError,
  SteamRateLimitedError,
  SteamTransientError,
  asSteamError,
} from './steam.errors';
import type {
  AppChangesPage,
  AppDetails,
  AppListPage,
  AppPrices,
  ChangedApp,
  StoreItems,
  SteamRequest,
} from './steam-request';
import { describeRequest } from './steam-request';
import { GatedCall, SteamCallOptions } from './gated.call';
import { budgetOf } from './steam-budget';
import { readPriceOverviews } from './prices/price-overview.reader';
import { readStoreItems } from './prices/store-items.reader';
import { storeItemsUrl } from './prices/store-items.query';

const APP_LIST_PAGE_SIZE = 50_000;
/** Through a proxy, these mean the proxy (not Steam) could not be used. */
const PROXY_FAILURE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const APP_LIST_TYPES = ['games', 'dlc', 'software', 'videos', 'hardware'];
/** An app of a GetAppList page as Steam sends it (docs/contract.md#app-list). */
interface AppListEntry {
  appid?: number;
  last_modified?: number;
  price_change_number?: number;
}
/** A `Retry-After` pauses an egress for at most this many times STEAM_COOLDOWN_MS. */
const MAX_COOLDOWN_FACTOR = 10;

/**
 * Plain HTTP to Steam, one call per method, through the egress it is given.
 * It knows nothing of queues or limits; it reads each answer and classifies
 * every failure once (steam.errors.ts).
 */
@Injectable()
export class SteamClient {
  private readonly logger = new Logger(SteamClient.name);

  constructor(
    private readonly http: HttpService,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
  ) {}

  async call(
    request: SteamRequest,
    egress: Egress,
    options?: SteamCallOptions,
  ): Promise<AppDetails | AppListPage | AppChangesPage | AppPrices | StoreItems> {
    options = { ...options, logAs: { request: describeRequest(request), budget: budgetOf(request) } };
    switch (request.kind) {
      case 'appdetails':
        return this.appDetails(request.appId, request.country, egress, options);
      case 'applist':
        return this.appListPage(request.lastAppId, egress, options);
      case 'appprices':
        return this.appPrices(request.appIds, request.country, egress, options);
      case 'storeitems':
        return this.storeItems(request.appIds, request.country, egress, options);
      case 'appchanges':
        return this.appChangesPage(request.lastAppId, request.ifModifiedSince, egress, options);
    }
  }

  async appDetails(appId: number, country: string, egress: Egress, options?: SteamCallOptions): Promise<AppDetails> {
    const { storeUrl, language } = this.config.steam;
    const params = { appids: appId, cc: country, l: language };
    const response = await this.get(`${storeUrl}/api/appdetails`, params, egress, options);
    if (response.status === 403) {
      throw new SteamRateLimitedError('Steam store answered 403 (IP blocked)', this.retryAfterMs(response));
    }
    this.throwUnlessOk(response, 'appdetails');
    const entry = (response.data as Record<string, unknown> | null)?.[String(appId)] as
      { success?: boolean; data?: unknown } | undefined;
    if (!entry || typeof entry !== 'object') {
      throw new SteamTransientError(`Steam appdetails answer lacks app ${appId}`);
    }
    return entry.success === true
      ? { available: true, details: entry.data ?? null }
      : { available: false, details: null };
  }

  /** Several apps' prices in one store request; several ids work only with this filter. */
  async appPrices(appIds: number[], country: string, egress: Egress, options?: SteamCallOptions): Promise<AppPrices> {
    const params = { appids: appIds.join(','), cc: country, filters: 'price_overview' };
    const response = await this.get(`${this.config.steam.storeUrl}/api/appdetails`, params, egress, options);
    if (response.status === 403) {
      throw new SteamRateLimitedError('Steam store answered 403 (IP blocked)', this.retryAfterMs(response));
    }
    if (response.status === 400)
      throw new SteamBadRequestError(`Steam appdetails answered 400 to ${appIds.length} app(s)`);
    this.throwUnlessOk(response, 'appdetails prices');
    return readPriceOverviews(response.data, appIds);
  }

  /** Several apps' store items from the Web API; GetItems takes no key and names no currency. */
  async storeItems(appIds: number[], country: string, egress: Egress, options?: SteamCallOptions): Promise<StoreItems> {
    const { apiUrl, language } = this.config.steam;
    const response = await this.get(storeItemsUrl(apiUrl, { appIds, country, language }), {}, egress, options);
    // Not a key problem (it takes none): a block, cooled like a 429 (docs/contract.md#prices).
    if (response.status === 403) {
      throw new SteamRateLimitedError('Steam GetItems answered 403', this.retryAfterMs(response));
    }
    if (response.status === 400)
      throw new SteamBadRequestError(`Steam GetItems answered 400 to ${appIds.length} app(s)`);
    this.throwUnlessOk(response, 'GetItems');
    return readStoreItems(response.data, appIds);
  }

  async appListPage(lastAppId: number, egress: Egress, options?: SteamCallOptions): Promise<AppListPage> {
    const page = await this.getAppList({ last_appid: lastAppId }, egress, options);
    const appIds = page.apps.map((app) => app.appid).filter((appId): appId is number => Number.isInteger(appId));
    return page.nextAppId === undefined ? { appIds } : { appIds, nextAppId: page.nextAppId };
  }

  /**
   * One page of the apps modified since `ifModifiedSince` (unix seconds): the
   * app list's call with `if_modified_since` (docs/contract.md#change-detection).
   * An entry without integer numbers is skipped, as the app list skips one without an appid.
   */
  async appChangesPage(
    lastAppId: number,
    ifModifiedSince: number,
    egress: Egress,
    options?: SteamCallOptions,
  ): Promise<AppChangesPage> {
    const page = await this.getAppList({ last_appid: lastAppId, if_modified_since: ifModifiedSince }, egress, options);
    const apps: ChangedApp[] = [];
    for (const { appid, last_modified, price_change_number } of page.apps) {
      if (![appid, last_modified, price_change_number].every(Number.isInteger)) continue;
      apps.push({ appId: appid!, lastModified: last_modified!, priceChangeNumber: price_change_number! });
    }
    return page.nextAppId === undefined ? { apps } : { apps, nextAppId: page.nextAppId };
  }

  /**
   * IStoreService/GetAppList with the key, every `include_*` flag (without them
   * Steam lists games only) and `query` (the cursor, and the change filter):
   * the app list's one code path, its failures classified once.
   */
  private async getAppList(
    query: Record<string, number>,
    egress: Egress,
    options?: SteamCallOptions,
  ): Promise<{ apps: AppListEntry[]; nextAppId?: number }> {
    const { apiUrl, apiKey } = this.config.steam;
    if (!apiKey) throw new SteamKeyRefusedError('STEAM_API_KEY is not set');
    const params: Record<string, string | number | boolean> = {
      key: apiKey,
      max_results: APP_LIST_PAGE_SIZE,
      ...query,
    };
    for (const type of APP_LIST_TYPES) params[`include_${type}`] = true;
    const response = await this.get(`${apiUrl}/IStoreService/GetAppList/v1/`, params, egress, options);
    if (response.status === 403) {
      throw new SteamKeyRefusedError('Steam refused STEAM_API_KEY (403)');
    }
    this.throwUnlessOk(response, 'GetAppList');
    const page = (response.data as { response?: unknown } | null)?.response as
      { apps?: AppListEntry[]; have_more_results?: boolean; last_appid?: number } | undefined;
    if (!page || typeof page !== 'object') {
      throw new SteamTransientError('Steam GetAppList answer has no response object');
    }
    const apps = Array.isArray(page.apps) ? page.apps.filter((app) => typeof app === 'object' && app !== null) : [];
    const hasMore = page.have_more_results === true && Number.isInteger(page.last_appid);
    return hasMore ? { apps, nextAppId: page.last_appid } : { apps };
  }

  private async get(url: string, params: object, egress: Egress, options?: SteamCallOptions): Promise<AxiosResponse> {
    const call = new GatedCall(this.config.steam.timeoutMs, options);
    let response: AxiosResponse;
    const line = { egress: egress.label, ...options?.logAs };
    const subject = `Steam ${options?.logAs?.request ?? new URL(url).pathname} via ${egress.label}`;
    try {
      // The module's axios instance, without the Observable wrapper: on this hot
      // path its per-request cancel token (an Error with a stack) is measurable.
      response = await loggedCall(
        this.logger,
        subject,
        line,
        this.http.axiosRef.get(url, {
          params,
          httpAgent: egress.httpAgent,
          httpsAgent: egress.httpsAgent,
          // Proxies come from the egress only, never from HTTP(S)_PROXY.
          proxy: false,
          validateStatus: () => true,
          responseType: 'json',
          // Bounded by the call as a whole, not by the socket's idle time.
          timeout: 0,
          signal: call.signal,
          transport: call.transport(url),
        }),
      );
    } catch (error) {
      if (call.refusal !== undefined) throw call.refusal;
      if (options?.signal?.aborted) throw options.signal.reason;
      if (call.timedOut) throw call.signal.reason;
      // Timeouts, resets and refused connections: the key is in the URL, so only
      // the error's code and message travel on, never the request config.
      const description = describeNetworkError(error);
      const { code } = error as { code?: string };
      if (egress.isProxy && code && PROXY_FAILURE_CODES.has(code)) {
        throw new SteamEgressError(`Proxy ${egress.label} failed: ${description}`);
      }
      throw asSteamError(new Error(description));
    } finally {
      call.finish();
    }
    if (egress.isProxy && this.failedAsProxy(response, url, egress)) {
      throw new SteamEgressError(`Proxy ${egress.label} answered ${response.status} itself`);
    }
    return response;
  }

  /**
   * A 407 always comes from the proxy, and so does a refused CONNECT (https,
   * the real Steam). Through a plain-http proxy request a 502 cannot be told
   * from Steam's own, so it counts as the proxy's.
   */
  private failedAsProxy(response: AxiosResponse, url: string, egress: Egress): boolean {
    if (response.status === 407) return true;
    if (url.startsWith('https:')) return egress.tunnelRefused?.(response.request as ClientRequest) ?? false;
    return response.status === 502;
  }

  private retryAfterMs(response: AxiosResponse): number | undefined {
    return retryAfterMs(response.headers['retry-after'], MAX_COOLDOWN_FACTOR * this.config.steam.cooldownMs);
  }

  private throwUnlessOk(response: AxiosResponse, what: string): void {
    const { status } = response;
    if (status === 429) {
      throw new SteamRateLimitedError(`Steam ${what} answered 429`, this.retryAfterMs(response));
    }
    if (status >= 500) throw new SteamTransientError(`Steam ${what} answered ${status}`);
    if (status !== 200) throw new SteamPermanentError(`Steam ${what} answered ${status}`);
    if (response.data === null || response.data === undefined || response.data === '') {
      throw new SteamTransientError(`Steam ${what} answered 200 with a null body`);
    }
  }
}

/**
 * `Retry-After` in ms (seconds or an HTTP date), or undefined when absent or
 * unreadable. Never more than `maxMs`: one answer must not pause an egress for
 * every replica until next year.
 */
export function retryAfterMs(header: unknown, maxMs: number): number | undefined {
  if (typeof header !== 'string' || !header.trim()) return undefined;
  const seconds = Number(header);
  let ms: number;
  if (Number.isFinite(seconds)) {
    if (seconds < 0) return undefined;
    ms = Math.ceil(seconds * 1000);
  } else {
    const date = Date.parse(header);
    if (Number.isNaN(date)) return undefined;
    ms = Math.max(0, date - Date.now());
  }
  return Math.min(ms, maxMs);
}
