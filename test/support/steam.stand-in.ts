import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { HttpStandIn, RecordedRequest, Reply } from './http-stand-in';
import { projectRoot } from './project-root';

const SAMPLES = join(projectRoot(), 'test', 'fixtures', 'steam');

function sample(name: string): Record<string, { success: boolean; data?: Record<string, unknown> }> {
  return JSON.parse(readFileSync(join(SAMPLES, name), 'utf8'));
}

/** Real appdetails answers (Portal 2, priced; its soundtrack, free) used as templates. */
const PRICED = sample('appdetails_620_full_priced_cc-cz.json')['620']!.data!;
const FREE = sample('appdetails_323180_full_free_music_cc-cz.json')['323180']!.data!;
const CURRENCY: Record<string, string> = { US: 'USD', GB: 'GBP', JP: 'JPY', PL: 'PLN', BR: 'BRL' };
/** `last_modified` of an app whose test names none (as in test/fixtures/steam). */
export const APP_LAST_MODIFIED = 1745368572;

export interface AppDetailsCall {
  appId: number;
  country: string;
  /** 1 for the first request of this (app, country), 2 for the next, … */
  attempt: number;
  request: RecordedRequest;
}

/**
 * Stands in for store.steampowered.com and api.steampowered.com, answering
 * like the real ones (shapes from test/fixtures/steam). 620 is Portal 2 and
 * 323180 its free soundtrack, as Steam answers them; other apps whose id ends
 * in 0 are free, ids ≥ 900,000,000 are unknown (`success: false`), the rest
 * are priced in the country's currency. `script` overrides an answer (429, 5xx,
 * `null`, resets, slowness) for the tests.
 */
export class SteamStandIn extends HttpStandIn {
  /** Return a reply to override the normal answer, or undefined. */
  script?: (call: AppDetailsCall) => Reply | undefined;
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

  get appDetailsRequests(): RecordedRequest[] {
    return this.requests.filter((request) => request.url.pathname === '/api/appdetails');
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

export function appDetailsEntry(appId: number, country: string): { success: boolean; data?: Record<string, unknown> } {
  if (appId >= 900_000_000) return { success: false };
  if (appId === FREE.steam_appid) return { success: true, data: FREE };
  const currency = CURRENCY[country] ?? 'EUR';
  const price = { ...(PRICED.price_overview as object), currency };
  if (appId === PRICED.steam_appid) return { success: true, data: { ...PRICED, price_overview: price } };
  if (appId % 10 === 0) return { success: true, data: { ...FREE, steam_appid: appId, name: `Free app ${appId}` } };
  return { success: true, data: { ...PRICED, steam_appid: appId, name: `App ${appId}`, price_overview: price } };
}
