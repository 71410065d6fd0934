import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { HttpStandIn, RecordedRequest, Reply } from './http-stand-in';
import { projectRoot } from './project-root';
import { priceOverview, priceOverviewEntry, readStoreItemsInput, storeItem } from './steam-prices';

const SAMPLES = join(projectRoot(), 'test', 'fixtures', 'steam');

function sample(name: string): Record<string, { success: boolean; data?: Record<string, unknown> }> {
  return JSON.parse(readFileSync(join(SAMPLES, name), 'utf8'));
}

/** Real appdetails answers (Portal 2, priced; its soundtrack, free) used as templates. */
const PRICED = sample('appdetails_620_full_priced_cc-cz.json')['620']!.data!;
const FREE = sample('appdetails_323180_full_free_music_cc-cz.json')['323180']!.data!;
const STORE_ITEMS_PATH = '/IStoreBrowseService/GetItems/v1/';
/** `last_modified` of an app whose test names none (as in test/fixtures/steam). */
export const APP_LAST_MODIFIED = 1745368572;

export interface AppDetailsCall {
  appId: number;
  country: string;
  /** 1 for the first request of this (app, country), 2 for the next, … */
  attempt: number;
  request: RecordedRequest;
}

/** One request for several apps' prices: appdetails with `filters=price_overview`, or GetItems. */
export interface PriceCall {
  source: 'appdetails' | 'storebrowse';
  appIds: number[];
  country: string;
  request: RecordedRequest;
}

/** One app of a price answer; `attempt` counts the price requests that asked for it in that country. */
export interface PriceEntryCall {
  source: 'appdetails' | 'storebrowse';
  appId: number;
  country: string;
  attempt: number;
}

/** Returned by `priceEntry` to leave an app out of an answer. */
export const LEAVE_OUT = Symbol('leave the app out');

/**
 * Stands in for store.steampowered.com and api.steampowered.com, answering
 * like the real ones (shapes from test/fixtures/steam). 620 is Portal 2 and
 * 323180 its free soundtrack, as Steam answers them; other apps whose id ends
 * in 0 are free, ids ≥ 900,000,000 are unknown (`success: false`), the rest
 * are priced in the country's currency. Prices of several apps (appdetails
 * with `filters=price_overview`, GetItems) follow steam-prices.ts. `script`
 * overrides an answer (429, 5xx, `null`, resets, slowness) for the tests.
 */
export class SteamStandIn extends HttpStandIn {
  /** Return a reply to override the normal answer, or undefined. */
  script?: (call: AppDetailsCall) => Reply | undefined;
  /** Return a reply to override a whole price request's answer, or undefined. */
  priceScript?: (call: PriceCall) => Reply | undefined;
  /**
   * Per app of a price answer: {@link LEAVE_OUT} leaves it out (GetItems, which
   * lists every id asked, answers `{}` at its place), any other value replaces
   * its entry (a garbled one, say), undefined answers it normally.
   */
  priceEntry?: (call: PriceEntryCall) => unknown;
  /** Price requests for more apps than this are answered 400 (body `null`), as Steam answers one too long. */
  maxChunk = Number.POSITIVE_INFINITY;
  /** App IDs GetAppList pages through. */
  appList: number[] = [];
  /**
   * `last_modified` (unix seconds) of the apps in `appList` that it names; the
   * others were last modified at {@link APP_LAST_MODIFIED}. With
   * `if_modified_since`, GetAppList lists only the apps modified at or after it
   * (inclusive, the harder case for `apps.changed`: whether the real filter is,
   * nobody knows, so an app at exactly `until` may be listed again).
   */
  lastModified = new Map<number, number>();
  pageSize = 50_000;
  /** The key GetAppList accepts; any other key gets a 403 page. */
  apiKey = 'test-steam-key';
  private readonly attempts = new Map<string, number>();
  private readonly priceAttempts = new Map<string, number>();

  /** Requests for one app's full details (no `filters`). */
  get appDetailsRequests(): RecordedRequest[] {
    return this.requests.filter(
      (request) => request.url.pathname === '/api/appdetails' && !request.url.searchParams.has('filters'),
    );
  }

  /** appdetails requests with `filters=price_overview` (several apps, or one to learn a currency), in `country` when given. */
  priceRequests(country?: string): RecordedRequest[] {
    return this.requests.filter(
      (request) =>
        request.url.pathname === '/api/appdetails' &&
        request.url.searchParams.has('filters') &&
        (country === undefined || request.url.searchParams.get('cc') === country),
    );
  }

  /** GetItems requests, with the ids and country each asked for. */
  get storeItemsRequests(): { appIds: number[]; country: string; request: RecordedRequest }[] {
    return this.requests
      .filter((request) => request.url.pathname === STORE_ITEMS_PATH)
      .map((request) => ({ ...readStoreItemsInput(request), request }));
  }

  /** The appdetails requests for `appId` (in `country`, when given), in order. */
  appDetailsFor(appId: number, country?: string): RecordedRequest[] {
    return this.appDetailsRequests.filter(
      ({ url }) =>
        url.searchParams.get('appids') === String(appId) &&
        (country === undefined || url.searchParams.get('cc') === country),
    );
  }

  /** Arrival times of every Steam request, for sliding-window checks. */
  get arrivalTimes(): number[] {
    return this.requests.map((request) => request.at);
  }

  protected handle(request: RecordedRequest): Reply {
    const params = request.url.searchParams;
    const several = (params.get('appids') ?? '').includes(',');
    if (request.url.pathname === '/api/appdetails' && (several || params.has('filters'))) return this.prices(request);
    if (request.url.pathname === STORE_ITEMS_PATH) return this.storeItems(request);
    if (request.url.pathname === '/api/appdetails') return this.appDetails(request);
    if (request.url.pathname === '/IStoreService/GetAppList/v1/') return this.appListPage(request);
    return { status: 404, text: '<html>Not Found</html>' };
  }

  private appDetails(request: RecordedRequest): Reply {
    const appId = Number(request.url.searchParams.get('appids'));
    const country = request.url.searchParams.get('cc') ?? '';
    const key = `${appId}/${country}`;
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    const scripted = this.script?.({ appId, country, attempt, request });
    if (scripted) return scripted;
    if (!Number.isInteger(appId) || appId <= 0 || !/^[A-Z]{2}$/.test(country)) return { status: 400, body: null };
    return { status: 200, body: { [appId]: appDetailsEntry(appId, country) } };
  }

  /** appdetails for several ids: only with `filters=price_overview`, as Steam (else 400, body `null`). */
  private prices(request: RecordedRequest): Reply {
    const params = request.url.searchParams;
    const appIds = (params.get('appids') ?? '').split(',').map(Number);
    const country = params.get('cc') ?? '';
    const refused = params.get('filters') !== 'price_overview' || !this.fits(appIds, country);
    if (refused) return { status: 400, body: null };
    const scripted = this.priceScript?.({ source: 'appdetails', appIds, country, request });
    if (scripted) return scripted;
    const body: Record<string, unknown> = {};
    for (const appId of appIds) {
      const scripted = this.scriptedEntry('appdetails', appId, country);
      const entry = scripted === undefined ? priceOverviewEntry(appId, country) : scripted;
      if (entry !== LEAVE_OUT) body[appId] = entry;
    }
    return { status: 200, body };
  }

  /** GetItems: the items in the order asked, `appid` 0 for an app it does not list. */
  private storeItems(request: RecordedRequest): Reply {
    const { appIds, country } = readStoreItemsInput(request);
    if (!this.fits(appIds, country)) return { status: 400, body: null };
    const scripted = this.priceScript?.({ source: 'storebrowse', appIds, country, request });
    if (scripted) return scripted;
    const items = appIds.map((appId) => {
      const scripted = this.scriptedEntry('storebrowse', appId, country);
      if (scripted === LEAVE_OUT) return {};
      return scripted === undefined ? storeItem(appId, country) : scripted;
    });
    return { status: 200, body: { response: { store_items: items } } };
  }

  private fits(appIds: number[], country: string): boolean {
    const valid = appIds.every((appId) => Number.isInteger(appId) && appId > 0) && /^[A-Z]{2}$/.test(country);
    return valid && appIds.length <= this.maxChunk;
  }

  private scriptedEntry(source: PriceEntryCall['source'], appId: number, country: string): unknown {
    const key = `${appId}/${country}`;
    const attempt = (this.priceAttempts.get(key) ?? 0) + 1;
    this.priceAttempts.set(key, attempt);
    return this.priceEntry?.({ source, appId, country, attempt });
  }

  private appListPage(request: RecordedRequest): Reply {
    const params = request.url.searchParams;
    if (params.get('key') !== this.apiKey) {
      return { status: 403, text: '<html><head><title>Forbidden</title></head><body>Access is denied.</body></html>' };
    }
    const types = ['games', 'dlc', 'software', 'videos', 'hardware'];
    if (types.some((type) => params.get(`include_${type}`) !== 'true')) {
      return { status: 400, body: null };
    }
    const after = Number(params.get('last_appid') ?? 0);
    const max = Math.min(Number(params.get('max_results') ?? 10_000), this.pageSize);
    const since = params.has('if_modified_since') ? Number(params.get('if_modified_since')) : undefined;
    const lastModified = (appId: number) => this.lastModified.get(appId) ?? APP_LAST_MODIFIED;
    const rest = this.appList
      .filter((appId) => appId > after && (since === undefined || lastModified(appId) >= since))
      .sort((a, b) => a - b);
    const page = rest.slice(0, max);
    const apps = page.map((appid) => ({
      appid,
      name: `App ${appid}`,
      last_modified: lastModified(appid),
      price_change_number: 37149137,
    }));
    const more = rest.length > page.length;
    return {
      status: 200,
      body: { response: more ? { apps, have_more_results: true, last_appid: page.at(-1) } : { apps } },
    };
  }
}

/**
 * The full appdetails entry of one app. One price per country (its regular
 * price, steam-prices.ts) for every priced app, so that the bench can serve
 * these answers from a template.
 */
export function appDetailsEntry(appId: number, country: string): { success: boolean; data?: Record<string, unknown> } {
  if (appId >= 900_000_000) return { success: false };
  if (appId === FREE.steam_appid) return { success: true, data: FREE };
  const price = priceOverview('regular', country);
  if (appId === PRICED.steam_appid) return { success: true, data: { ...PRICED, price_overview: price } };
  if (appId % 10 === 0) return { success: true, data: { ...FREE, steam_appid: appId, name: `Free app ${appId}` } };
  return { success: true, data: { ...PRICED, steam_appid: appId, name: `App ${appId}`, price_overview: price } };
}
