import { describe, expect, it, vi } from 'vitest';

import { SteamTransientError } from '../../steam/steam.errors';
import type { AppPricesRequest, PriceQuote, StoreItemQuote, StoreItemsRequest } from '../../steam/steam-request';
import type { SteamRequestQueue } from '../../steam/steam-request.queue';
import { CountryCurrencies, CURRENCY_TEACHERS } from './country-currencies';
import type { CountryCurrencyStore } from './country-currency.store';
import { AppDetailsPrices, StoreBrowsePrices } from './price-sources';

const item = (final: number): StoreItemQuote => ({
  available: true,
  isFree: false,
  price: { initial: final, final, discountPercent: 0, initialFormatted: '', finalFormatted: `${final}` },
});
const FREE: StoreItemQuote = { available: true, isFree: true, price: null };
const GONE: StoreItemQuote = { available: false, isFree: false, price: null };
const eur = (final: number): PriceQuote => ({ ...item(final), price: { currency: 'EUR', ...item(final).price! } });

/** Steam stubbed per request kind: GetItems answers `items`; appdetails `teaches` (or fails). */
function sources(options: {
  items: (StoreItemQuote | null)[];
  teaches?: (appId: number) => PriceQuote | null | Error;
  known?: string;
}) {
  const asked: (AppPricesRequest | StoreItemsRequest)[] = [];
  const steam = {
    request: vi.fn(async (request: AppPricesRequest | StoreItemsRequest) => {
      asked.push(request);
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (request.kind === 'storeitems') return { quotes: options.items.slice(0, request.appIds.length) };
      const taught = request.appIds.map((appId) => options.teaches?.(appId) ?? null);
      const failure = taught.find((quote) => quote instanceof Error);
      if (failure) throw failure;
      return { quotes: taught };
    }),
  } as unknown as SteamRequestQueue;
  const remembered = new Map<string, string>(options.known ? [['CZ', options.known]] : []);
  const store = {
    known: async (country: string) => remembered.get(country),
    remember: async (country: string, currency: string) => void remembered.set(country, currency),
  } as unknown as CountryCurrencyStore;
  const storeBrowse = new StoreBrowsePrices(steam, new CountryCurrencies(store, steam));
  const lessons = () => asked.filter((request) => request.kind === 'appprices');
  return { storeBrowse, appDetails: new AppDetailsPrices(steam), asked, lessons, remembered };
}

const signal = new AbortController().signal;

describe(StoreBrowsePrices.name, () => {
  it("prices GetItems' items in the country's currency, learned once from appdetails and remembered", async () => {
    const { storeBrowse, lessons, remembered } = sources({ items: [item(975), FREE, GONE], teaches: eur });

    const answer = await storeBrowse.ask([620, 570, 999999999], 'CZ', signal);

    expect([...answer]).toEqual([
      [620, eur(975)],
      [570, FREE],
      [999999999, GONE],
    ]);
    expect(lessons()).toEqual([{ kind: 'appprices', appIds: [620], country: 'CZ' }]);
    expect(remembered.get('CZ')).toBe('EUR');
  });

  it('asks appdetails nothing when the currency is known, or when nothing was priced', async () => {
    const known = sources({ items: [item(975)], known: 'EUR' });
    await known.storeBrowse.ask([620], 'CZ', signal);
    const unpriced = sources({ items: [FREE, GONE] });
    await unpriced.storeBrowse.ask([570, 999999999], 'CZ', signal);

    expect(known.lessons()).toHaveLength(0);
    expect(unpriced.lessons()).toHaveLength(0);
  });

  it('learns a country once while several chunks need it at the same time', async () => {
    const { storeBrowse, lessons } = sources({ items: [item(1), item(2)], teaches: eur });

    await Promise.all([storeBrowse.ask([1, 2], 'CZ', signal), storeBrowse.ask([3, 4], 'CZ', signal)]);

    expect(lessons()).toHaveLength(1);
  });

  it(`tries ${CURRENCY_TEACHERS} priced apps, then fails the priced ones and keeps the others`, async () => {
    const { storeBrowse, lessons } = sources({
      items: [item(1), item(2), FREE, item(3), item(4)],
      teaches: (appId) =>
        appId === 1
          ? new SteamTransientError('503 (after 5 attempts)')
          : { available: true, isFree: null, price: null },
    });

    const answer = await storeBrowse.ask([1, 2, 3, 4, 5], 'CZ', signal);

    expect(lessons().map((request) => request.appIds)).toEqual([[1], [2], [4]]);
    expect([...answer]).toEqual([
      [1, 'steam_error'],
      [2, 'steam_error'],
      [3, FREE],
      [4, 'steam_error'],
      [5, 'steam_error'],
    ]);
  });

  it('leaves out an item GetItems garbled, so that it is asked again', async () => {
    const { storeBrowse } = sources({ items: [null, FREE] });
    expect([...(await storeBrowse.ask([1, 2], 'CZ', signal)).keys()]).toEqual([2]);
  });
});

describe(AppDetailsPrices.name, () => {
  it('maps the quotes to the apps asked and leaves out those the answer lacked', async () => {
    const { appDetails, asked } = sources({ items: [], teaches: (appId) => (appId === 7 ? null : eur(appId)) });

    const answer = await appDetails.ask([620, 7, 570], 'CZ', signal);

    expect(asked).toEqual([{ kind: 'appprices', appIds: [620, 7, 570], country: 'CZ' }]);
    expect([...answer]).toEqual([
      [620, eur(620)],
      [570, eur(570)],
    ]);
  });
});
