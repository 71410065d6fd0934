import { describe, expect, it } from 'vitest';

import { range } from '../support/shapes';
import { DISCOUNT_ENDS, expectedPriceBody } from '../support/steam-prices';
import { useWorld } from '../support/vitest-world';

/**
 * `apps.prices` from IStoreBrowseService/GetItems (STEAM_PRICE_SOURCE=storebrowse,
 * docs/contract.md#prices): items mapped by position, prices in the country's
 * currency learned once from appdetails, URLs under 8,000 characters.
 */
describe('apps.prices from GetItems', () => {
  const fixture = useWorld('prices-storebrowse', () => ({ STEAM_PRICE_SOURCE: 'storebrowse' }));
  const steam = () => fixture.standIns.steam;
  const backend = () => fixture.standIns.backend;
  const resultOf = async (taskId: string) => (await fixture.resultOf(taskId)).body;
  const stored = (appId: number, country: string) => backend().storedPrices.get(`${appId}/${country}`);

  it('maps items by position, an unlisted one included, and learns each currency once across two tasks', async () => {
    // 8003 is not listed (appid 0) though it sits between apps Steam lists.
    steam().priceEntry = ({ appId }) => (appId === 8003 ? { item_type: 0, id: 0, success: 2, appid: 0 } : undefined);
    const first = [620, 570, 1174180, 999999999, ...range(8001, 5)];

    fixture.publishTask('apps.prices', { taskId: 'sb-first', appIds: first, countries: ['PL', 'JP'] });
    expect(await resultOf('sb-first')).toMatchObject({ data: { failed: [] } });
    fixture.publishTask('apps.prices', { taskId: 'sb-second', appIds: range(8101, 20), countries: ['JP', 'PL'] });
    expect(await resultOf('sb-second')).toMatchObject({ data: { updated: range(8101, 20), failed: [] } });

    steam().priceEntry = undefined;
    expect(
      steam()
        .storeItemsRequests.map(({ country, appIds }) => `${country}:${appIds.length}`)
        .sort(),
    ).toEqual(['JP:20', 'JP:9', 'PL:20', 'PL:9']);
    // One appdetails price request per country, for one app GetItems priced there.
    expect(
      steam()
        .priceRequests('PL')
        .map((request) => request.url.searchParams.get('appids')),
    ).toEqual(['620']);
    expect(
      steam()
        .priceRequests('JP')
        .map((request) => request.url.searchParams.get('appids')),
    ).toEqual(['620']);
    expect(steam().priceRequests()).toHaveLength(2);
    for (const appId of [...first.filter((appId) => appId !== 8003), ...range(8101, 20)]) {
      for (const country of ['PL', 'JP']) {
        expect(stored(appId, country)).toEqual({
          ...expectedPriceBody(appId, country, 'storebrowse'),
          fetchedAt: expect.any(String),
        });
      }
    }
    expect(stored(8003, 'PL')).toMatchObject({ available: false, isFree: false, price: null });
    expect(stored(8002, 'PL')!.price).toMatchObject({ currency: 'PLN', final: 3699 });
    expect(stored(1174180, 'JP')!.price).toEqual({
      currency: 'JPY',
      initial: 798000,
      final: 199500,
      discountPercent: 75,
      initialFormatted: '¥ 7,980',
      finalFormatted: '¥ 1,995',
      discountEndsAt: new Date(DISCOUNT_ENDS * 1000).toISOString(),
    });
    expect(stored(570, 'JP')).toMatchObject({ isFree: true, price: null });
    expect(stored(999999999, 'JP')).toMatchObject({ available: false, isFree: false });
  });

  it('cuts chunks so that every GetItems URL stays under 8,000 characters (about 340 seven-digit ids)', async () => {
    const before = steam().storeItemsRequests.length;
    const appIds = range(1_000_001, 400);

    fixture.publishTask('apps.prices', { taskId: 'sb-long', appIds, countries: ['DE'] });
    expect(await resultOf('sb-long')).toMatchObject({ data: { updated: appIds, failed: [] } });

    const requests = steam().storeItemsRequests.slice(before);
    expect(requests.map(({ appIds: ids }) => ids.length)).toEqual([351, 49]);
    for (const { request } of requests) {
      expect(steam().url.length + request.url.pathname.length + request.url.search.length).toBeLessThan(8000);
    }
  });

  it('cools down after a 403 from GetItems, as after a 429, and asks again', async () => {
    let refused = 0;
    steam().priceScript = ({ source }) =>
      source === 'storebrowse' && refused++ === 0 ? { status: 403, text: '<html>Access Denied</html>' } : undefined;

    fixture.publishTask('apps.prices', { taskId: 'sb-403', appIds: [8201, 8202], countries: ['US'] });

    expect(await resultOf('sb-403')).toMatchObject({ data: { updated: [8201, 8202], failed: [] } });
    steam().priceScript = undefined;
    const [blocked, again] = steam().storeItemsRequests.filter(({ appIds }) => appIds.includes(8201));
    // STEAM_COOLDOWN_MS is 200 ms in the tests; the egress waited it out before asking again.
    expect(again!.request.at - blocked!.request.at).toBeGreaterThanOrEqual(180);
    expect(stored(8202, 'US')).toMatchObject({ source: 'storebrowse', price: { currency: 'USD', final: 999 } });
  });
});
