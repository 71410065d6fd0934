import type { HttpService } from '@nestjs/axios';
import { describe, expect, it } from 'vitest';

import type { WorkerConfig } from '../config/worker-config';
import { DIRECT_EGRESS } from './egress/egress';
import { SteamClient } from './steam.client';
import { SteamBadRequestError, SteamPermanentError, SteamRateLimitedError, SteamTransientError } from './steam.errors';

const STORE = 'https://store.steampowered.com';
const API = 'https://api.steampowered.com';

interface Call {
  url: string;
  params: Record<string, unknown> | undefined;
}

/** A SteamClient whose HTTP layer answers `status` and `data` to whatever it is asked. */
function clientAnswering(status: number, data: unknown): { client: SteamClient; calls: Call[] } {
  const calls: Call[] = [];
  const axiosRef = {
    get: (url: string, options: { params?: Record<string, unknown> }) => {
      calls.push({ url, params: options.params });
      return Promise.resolve({ status, data, headers: {} });
    },
  };
  const config = {
    steam: { storeUrl: STORE, apiUrl: API, language: 'english', timeoutMs: 1000, cooldownMs: 30_000 },
  } as WorkerConfig;
  return { client: new SteamClient({ axiosRef } as unknown as HttpService, config), calls };
}

describe(`${SteamClient.name} price calls`, () => {
  describe('appdetails prices', () => {
    it('asks the store for several ids at once with filters=price_overview, and reads each', async () => {
      const { client, calls } = clientAnswering(200, { 620: { success: true, data: [] }, 570: { success: false } });

      const { quotes } = await client.appPrices([620, 570], 'CZ', DIRECT_EGRESS);

      expect(calls).toEqual([
        { url: `${STORE}/api/appdetails`, params: { appids: '620,570', cc: 'CZ', filters: 'price_overview' } },
      ]);
      expect(quotes.map((quote) => quote?.available)).toEqual([true, false]);
    });

    it('calls a 400 a bad request, so that its caller may split the chunk', async () => {
      const { client } = clientAnswering(400, null);
      await expect(client.appPrices([620, 570], 'CZ', DIRECT_EGRESS)).rejects.toBeInstanceOf(SteamBadRequestError);
    });

    it("calls the store's 403 rate-limited and a null body transient", async () => {
      await expect(clientAnswering(403, '<html/>').client.appPrices([620], 'CZ', DIRECT_EGRESS)).rejects.toBeInstanceOf(
        SteamRateLimitedError,
      );
      await expect(clientAnswering(200, null).client.appPrices([620], 'CZ', DIRECT_EGRESS)).rejects.toBeInstanceOf(
        SteamTransientError,
      );
    });
  });

  describe('GetItems', () => {
    it('sends input_json in the URL itself, without a key, and reads the items in the order asked', async () => {
      const { client, calls } = clientAnswering(200, {
        response: {
          store_items: [
            { appid: 570, success: 1, is_free: true },
            { appid: 0, success: 2 },
          ],
        },
      });

      const { quotes } = await client.storeItems([570, 999999999], 'PL', DIRECT_EGRESS);

      expect(calls).toHaveLength(1);
      expect(calls[0]!.params).toEqual({});
      const url = new URL(calls[0]!.url);
      expect(url.origin + url.pathname).toBe(`${API}/IStoreBrowseService/GetItems/v1/`);
      expect(url.searchParams.has('key')).toBe(false);
      expect(JSON.parse(url.searchParams.get('input_json')!)).toMatchObject({
        ids: [{ appid: 570 }, { appid: 999999999 }],
        context: { country_code: 'PL', language: 'english' },
      });
      expect(quotes).toEqual([
        { available: true, isFree: true, price: null },
        { available: false, isFree: false, price: null },
      ]);
    });

    it('calls a 403 rate-limited like a 429: GetItems takes no key, so it is a block', async () => {
      const { client } = clientAnswering(403, '<html>Access is denied.</html>');
      await expect(client.storeItems([620], 'PL', DIRECT_EGRESS)).rejects.toBeInstanceOf(SteamRateLimitedError);
    });

    it('calls a 400 a bad request and a 404 permanent', async () => {
      await expect(clientAnswering(400, null).client.storeItems([1, 2], 'PL', DIRECT_EGRESS)).rejects.toBeInstanceOf(
        SteamBadRequestError,
      );
      const notFound = clientAnswering(404, '<html/>').client.storeItems([1, 2], 'PL', DIRECT_EGRESS);
      await expect(notFound).rejects.toBeInstanceOf(SteamPermanentError);
      await expect(notFound).rejects.not.toBeInstanceOf(SteamBadRequestError);
    });
  });
});
