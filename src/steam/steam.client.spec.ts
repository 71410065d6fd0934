import type { HttpService } from '@nestjs/axios';
import { describe, expect, it } from 'vitest';

import type { WorkerConfig } from '../config/worker-config';
import { DIRECT_EGRESS, Egress } from './egress/egress';
import { retryAfterMs, SteamClient } from './steam.client';
import {
  SteamEgressError,
  SteamKeyRefusedError,
  SteamPermanentError,
  SteamRateLimitedError,
  SteamTransientError,
} from './steam.errors';

const STORE = 'https://store.steampowered.com';
const API = 'https://api.steampowered.com';
const COOLDOWN_MS = 30_000;
const PROXY: Egress = { id: 'proxy:10.0.0.1:3128', label: '10.0.0.1:3128', isProxy: true };

interface Answer {
  status?: number;
  data?: unknown;
  headers?: Record<string, string>;
  /** Thrown by axios instead of answering (a network error). */
  fails?: { code: string; message: string };
}

/** A SteamClient whose HTTP layer answers `answer` to whatever it is asked. */
function clientAnswering(answer: Answer): { client: SteamClient; urls: string[]; queries: unknown[] } {
  const urls: string[] = [];
  const queries: unknown[] = [];
  const axiosRef = {
    get: (url: string, options?: { params?: unknown }) => {
      urls.push(url);
      queries.push(options?.params);
      if (answer.fails) return Promise.reject(Object.assign(new Error(answer.fails.message), answer.fails));
      return Promise.resolve({ status: answer.status ?? 200, data: answer.data, headers: answer.headers ?? {} });
    },
  };
  const config = {
    steam: {
      storeUrl: STORE,
      apiUrl: API,
      apiKey: 'key',
      language: 'english',
      timeoutMs: 1000,
      cooldownMs: COOLDOWN_MS,
    },
  } as WorkerConfig;
  return { client: new SteamClient({ axiosRef } as unknown as HttpService, config), urls, queries };
}

const details = (answer: Answer, egress: Egress = DIRECT_EGRESS) =>
  clientAnswering(answer).client.appDetails(620, 'DE', egress);
const appList = (answer: Answer) => clientAnswering(answer).client.appListPage(0, DIRECT_EGRESS);

describe(SteamClient.name, () => {
  describe('appdetails', () => {
    it("reads a priced app as available, with Steam's data object as received", async () => {
      const data = { name: 'Portal 2', price_overview: { currency: 'EUR', final: 819 } };
      expect(await details({ data: { 620: { success: true, data } } })).toEqual({ available: true, details: data });
    });

    it('reads {"success": false} as an answer: not available, no details', async () => {
      expect(await details({ data: { 620: { success: false } } })).toEqual({ available: false, details: null });
    });

    it.each([
      ['a null body', { data: null }],
      ['an answer without the app', { data: { 400: { success: true, data: {} } } }],
      ['a 500', { status: 500, data: null }],
      ['a 502', { status: 502, data: '<html>Bad Gateway</html>' }],
      ['a reset connection', { fails: { code: 'ECONNRESET', message: 'socket hang up' } }],
    ])('calls %s transient', async (_what, answer) => {
      await expect(details(answer)).rejects.toBeInstanceOf(SteamTransientError);
    });

    it('calls a 400 permanent: the request is malformed', async () => {
      await expect(details({ status: 400, data: null })).rejects.toBeInstanceOf(SteamPermanentError);
    });

    it("calls the store's 403 (an IP block page) rate-limited, not a key problem", async () => {
      const error = await rejection(details({ status: 403, data: '<html>Access Denied</html>' }));
      expect(error).toBeInstanceOf(SteamRateLimitedError);
      expect((error as SteamRateLimitedError).retryAfterMs).toBeUndefined();
    });

    it('calls a 429 rate-limited, with no pause of its own when Steam names none', async () => {
      const error = await rejection(details({ status: 429, data: null }));
      expect(error).toBeInstanceOf(SteamRateLimitedError);
      expect((error as SteamRateLimitedError).retryAfterMs).toBeUndefined();
    });

    it('takes the pause a 429 names in Retry-After, at most 10 × STEAM_COOLDOWN_MS', async () => {
      const short = await rejection(details({ status: 429, data: null, headers: { 'retry-after': '5' } }));
      const year = await rejection(details({ status: 429, data: null, headers: { 'retry-after': '31536000' } }));
      expect((short as SteamRateLimitedError).retryAfterMs).toBe(5000);
      expect((year as SteamRateLimitedError).retryAfterMs).toBe(10 * COOLDOWN_MS);
    });

    it.each([
      ['refuses the connection', { fails: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' } }],
      ['answers 407', { status: 407, data: null }],
    ])('blames the proxy, not Steam, when the proxy %s', async (_what, answer) => {
      await expect(details(answer, PROXY)).rejects.toBeInstanceOf(SteamEgressError);
    });

    it("counts a 502 through an open tunnel to https as Steam's own", async () => {
      await expect(details({ status: 502, data: null }, PROXY)).rejects.toBeInstanceOf(SteamTransientError);
    });
  });

  describe('GetAppList', () => {
    it('reads a page and the cursor of the next one', async () => {
      const data = { response: { apps: [{ appid: 10 }, { appid: 20 }], have_more_results: true, last_appid: 20 } };
      expect(await appList({ data })).toEqual({ appIds: [10, 20], nextAppId: 20 });
    });

    it('reads the last page, which names no cursor', async () => {
      expect(await appList({ data: { response: { apps: [{ appid: 30 }] } } })).toEqual({ appIds: [30] });
    });

    it('calls a 403 from the Web API a refused key: permanent, no cooldown', async () => {
      await expect(appList({ status: 403, data: '<html>Access is denied.</html>' })).rejects.toBeInstanceOf(
        SteamKeyRefusedError,
      );
    });

    it('calls an answer without a response object transient', async () => {
      await expect(appList({ data: {} })).rejects.toBeInstanceOf(SteamTransientError);
    });
  });

  describe('GetAppList since a time (apps.changed)', () => {
    /** The client's page for `answer`, and the query it sent. */
    async function changes(answer: Answer) {
      const { client, queries } = clientAnswering(answer);
      return { page: await client.appChangesPage(40, 1_745_000_000, DIRECT_EGRESS), query: queries[0] };
    }

    it('sends the app list query with if_modified_since and reads each app with its Steam numbers', async () => {
      const apps = [{ appid: 10, name: 'Ten', last_modified: 1_745_000_100, price_change_number: 7 }];
      const { page, query } = await changes({ data: { response: { apps, have_more_results: true, last_appid: 10 } } });

      expect(page).toEqual({ apps: [{ appId: 10, lastModified: 1_745_000_100, priceChangeNumber: 7 }], nextAppId: 10 });
      expect(query).toEqual({
        key: 'key',
        max_results: 50_000,
        last_appid: 40,
        if_modified_since: 1_745_000_000,
        include_games: true,
        include_dlc: true,
        include_software: true,
        include_videos: true,
        include_hardware: true,
      });
    });

    it('skips an entry whose numbers are not integers, as the app list skips one without an appid', async () => {
      const apps = [
        { appid: 10, last_modified: 1_745_000_100, price_change_number: 7 },
        { appid: 20, last_modified: '1745000100', price_change_number: 7 },
        { appid: 30, last_modified: 1_745_000_300 },
      ];
      expect((await changes({ data: { response: { apps } } })).page).toEqual({
        apps: [{ appId: 10, lastModified: 1_745_000_100, priceChangeNumber: 7 }],
      });
    });

    it('calls a 403 a refused key, as for the app list', async () => {
      await expect(changes({ status: 403, data: '<html>Access is denied.</html>' })).rejects.toBeInstanceOf(
        SteamKeyRefusedError,
      );
    });
  });
});

describe(retryAfterMs.name, () => {
  it('reads seconds', () => {
    expect(retryAfterMs('120', 300_000)).toBe(120_000);
  });

  it('reads an HTTP date as the time left until it', () => {
    const inOneMinute = new Date(Date.now() + 60_000).toUTCString();
    expect(retryAfterMs(inOneMinute, 300_000)).toBeGreaterThan(58_000);
    expect(retryAfterMs(inOneMinute, 300_000)).toBeLessThanOrEqual(60_000);
  });

  it.each([
    ['a year in seconds', '31536000'],
    ['a date next year', new Date(Date.now() + 365 * 86_400_000).toUTCString()],
  ])('never pauses longer than the cap, whatever Steam asks (%s)', (_what, header) => {
    expect(retryAfterMs(header, 300_000)).toBe(300_000);
  });

  it.each([undefined, '', 'soon', '-5'])('ignores a missing or unreadable header (%s)', (header) => {
    expect(retryAfterMs(header, 300_000)).toBeUndefined();
  });
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (error: unknown) => error,
  );
}
