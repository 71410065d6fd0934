import { describe, expect, it } from 'vitest';

import type { RecordedRequest } from '../support/http-stand-in';
import { waitFor } from '../support/rmq';
import { range } from '../support/shapes';
import { expectedPriceBody, priceOverviewEntry, REAL_PRICE_BATCH } from '../support/steam-prices';
import { LEAVE_OUT } from '../support/steam.stand-in';
import { taskFailed, useWorld } from '../support/vitest-world';

/**
 * `apps.prices` from appdetails (the default source): many apps per Steam
 * request, each price pushed to `…/price` (docs/contract.md#prices, #price-push),
 * apps.fetch's result rule and resume.
 */

const STEAM_MAX_ATTEMPTS = 3;
/** The real batch's apps, priced, free, discounted and unknown, and 245 more of every kind (ids ending in 0, 5, 99). */
const APPS_250 = [620, 570, 1174180, 323180, 999999999, ...range(2001, 245)];

describe('apps.prices from appdetails', () => {
  const fixture = useWorld('prices', () => ({
    STEAM_MAX_ATTEMPTS: String(STEAM_MAX_ATTEMPTS),
    BACKEND_MAX_ATTEMPTS: '1',
  }));
  const steam = () => fixture.standIns.steam;
  const backend = () => fixture.standIns.backend;
  const resultOf = async (taskId: string) => (await fixture.resultOf(taskId)).body;
  const idsOf = (request: RecordedRequest) => request.url.searchParams.get('appids')!.split(',').map(Number);
  /** Runs the task and returns the price requests Steam saw meanwhile. */
  async function refresh(taskId: string, appIds: number[], countries: string[]): Promise<RecordedRequest[]> {
    const before = steam().priceRequests().length;
    fixture.publishTask('apps.prices', { taskId, appIds, countries });
    await fixture.resultOf(taskId);
    return steam().priceRequests().slice(before);
  }

  it('answers like Steam: the real multi-app answer, byte for byte, for its apps in Czechia', () => {
    for (const appId of Object.keys(REAL_PRICE_BATCH).map(Number)) {
      expect(priceOverviewEntry(appId, 'CZ')).toEqual(REAL_PRICE_BATCH[appId]);
    }
  });

  it('validates its data as apps.fetch does, and dead-letters what fails', async () => {
    fixture.publishTask('apps.prices', { taskId: 'p-invalid', appIds: [620], countries: ['XX'] });

    expect(await resultOf('p-invalid')).toEqual(taskFailed('p-invalid', 'apps.prices'));
    expect(steam().priceRequests()).toHaveLength(0);
  });

  it('refreshes 250 apps × 3 countries with 9 Steam requests and pushes 750 prices as the contract says', async () => {
    const countries = ['CZ', 'JP', 'US'];
    const pushesBefore = backend().pricePushes.length;

    const requests = await refresh('p-250', APPS_250, ['us', 'CZ', 'jp']);

    expect(requests).toHaveLength(9);
    expect(requests.every((request) => request.url.searchParams.get('filters') === 'price_overview')).toBe(true);
    expect(requests.map((request) => idsOf(request).length).sort((a, b) => a - b)).toEqual([
      50, 50, 50, 100, 100, 100, 100, 100, 100,
    ]);
    expect(steam().appDetailsRequests).toHaveLength(0);
    expect(await resultOf('p-250')).toEqual({
      pattern: 'apps.prices.done',
      data: { taskId: 'p-250', updated: [...APPS_250].sort((a, b) => a - b), failed: [] },
    });
    expect(backend().pricePushes.length - pushesBefore).toBe(750);
    for (const appId of APPS_250) {
      for (const country of countries) {
        expect(backend().storedPrices.get(`${appId}/${country}`)).toEqual({
          ...expectedPriceBody(appId, country, 'appdetails'),
          fetchedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        });
      }
    }
    // Spelt out once: priced, discounted, free (appdetails cannot tell it from unpriced), unpriced, unknown.
    const stored = (appId: number, country: string) => {
      const { fetchedAt: _fetchedAt, ...body } = backend().storedPrices.get(`${appId}/${country}`)!;
      return body;
    };
    expect(stored(620, 'JP')).toEqual({
      appId: 620,
      country: 'JP',
      available: true,
      isFree: false,
      price: {
        currency: 'JPY',
        initial: 105000,
        final: 105000,
        discountPercent: 0,
        initialFormatted: '',
        finalFormatted: '¥ 1,050',
      },
      source: 'appdetails',
    });
    expect(stored(1174180, 'CZ').price).toEqual({
      currency: 'EUR',
      initial: 5999,
      final: 1499,
      discountPercent: 75,
      initialFormatted: '59,99€',
      finalFormatted: '14,99€',
    });
    expect(stored(570, 'US')).toMatchObject({ available: true, isFree: null, price: null });
    expect(stored(2099, 'US')).toMatchObject({ available: true, isFree: null, price: null });
    expect(stored(999999999, 'CZ')).toMatchObject({ available: false, isFree: false, price: null });
  });

  it('asks again, alone or with the others left out, each app an answer lacked, and pushes the rest at once', async () => {
    const leftOut = [3005, 3120, 3201];
    steam().priceEntry = ({ appId, attempt }) => (leftOut.includes(appId) && attempt === 1 ? LEAVE_OUT : undefined);

    const requests = await refresh('p-left-out', range(3001, 250), ['DE', 'GB', 'PL']);

    steam().priceEntry = undefined;
    // One more request for each app left out, at most (apps left out of one answer are asked together).
    expect(requests.length).toBeGreaterThan(9);
    expect(requests.length).toBeLessThanOrEqual(9 + leftOut.length * 3);
    expect(
      requests
        .filter((request) => idsOf(request).length <= 3)
        .map(idsOf)
        .flat()
        .sort(),
    ).toEqual([...leftOut, ...leftOut, ...leftOut].sort());
    expect(await resultOf('p-left-out')).toMatchObject({ data: { updated: range(3001, 250), failed: [] } });
    expect(backend().storedPrices.get('3120/PL')).toMatchObject(expectedPriceBody(3120, 'PL', 'appdetails'));
  });

  it('asks again the apps an answer garbled, and fails one that is never answered in that country only', async () => {
    const garbled = { success: true, data: { price_overview: { currency: 7, final: 'soon' } } };
    steam().priceEntry = ({ appId, country, attempt }) => {
      if (appId === 4002 && attempt === 1) return { success: 'maybe' };
      if (appId === 4003 && attempt <= 2) return garbled;
      return appId === 4004 && country === 'FR' ? LEAVE_OUT : undefined;
    };

    await refresh('p-garbled', range(4001, 5), ['DE', 'FR']);

    steam().priceEntry = undefined;
    expect(await resultOf('p-garbled')).toEqual({
      pattern: 'apps.prices.done',
      data: {
        taskId: 'p-garbled',
        updated: [4001, 4002, 4003, 4005],
        failed: [{ appId: 4004, countries: ['FR'], reason: 'steam_error' }],
      },
    });
    expect(backend().storedPrices.get('4003/FR')).toMatchObject(expectedPriceBody(4003, 'FR', 'appdetails'));
    expect(backend().storedPrices.has('4004/DE')).toBe(true);
    expect(backend().storedPrices.has('4004/FR')).toBe(false);
  });

  it('splits a chunk Steam answers 400 in two, down to what it takes, and fails only an app refused alone', async () => {
    steam().maxChunk = 30;
    steam().priceScript = ({ appIds }) => (appIds.includes(5050) ? { status: 400, body: null } : undefined);

    const requests = await refresh('p-split', range(5001, 100), ['DE']);

    steam().maxChunk = Number.POSITIVE_INFINITY;
    steam().priceScript = undefined;
    expect(await resultOf('p-split')).toEqual({
      pattern: 'apps.prices.done',
      data: {
        taskId: 'p-split',
        updated: range(5001, 100).filter((appId) => appId !== 5050),
        failed: [{ appId: 5050, countries: ['DE'], reason: 'steam_error' }],
      },
    });
    // Depth first: 100 → 50 → two 25s; the 25 that holds 5050 is halved until 5050 stands alone; then the second 50.
    expect(requests.map((request) => idsOf(request).length)).toEqual([
      100, 50, 25, 25, 13, 12, 6, 6, 3, 3, 2, 1, 50, 25, 25,
    ]);
    expect(requests.filter((request) => idsOf(request).join() === '5050')).toHaveLength(1);
  });

  it('fails the apps of a chunk Steam keeps failing in that country only', async () => {
    steam().priceScript = ({ country }) => (country === 'BR' ? { status: 503, body: null } : undefined);

    const requests = await refresh('p-down', range(6001, 3), ['BR', 'US']);

    steam().priceScript = undefined;
    expect(requests.filter((request) => request.url.searchParams.get('cc') === 'BR')).toHaveLength(STEAM_MAX_ATTEMPTS);
    expect(await resultOf('p-down')).toMatchObject({
      data: {
        updated: [],
        failed: range(6001, 3).map((appId) => ({ appId, countries: ['BR'], reason: 'steam_error' })),
      },
    });
  });

  it('skips, when the task is delivered again, the pairs the backend accepted before', async () => {
    backend().script = ({ appId, country, kind }) =>
      kind === 'price' && country === 'GB' && appId >= 7003 ? { status: 503, body: null } : undefined;
    const task = { taskId: 'p-resume', appIds: range(7001, 4), countries: ['DE', 'GB'] };

    await refresh(task.taskId, task.appIds, task.countries);
    expect(await resultOf('p-resume')).toMatchObject({
      data: { updated: [7001, 7002], failed: [{ appId: 7003 }, { appId: 7004 }] },
    });
    backend().script = undefined;
    const before = steam().priceRequests().length;
    fixture.publishTask('apps.prices', task);
    await waitFor(() => fixture.resultsFor('p-resume').length === 2, 30_000, 'the second result');

    const again = steam().priceRequests().slice(before);
    expect(again.map((request) => `${request.url.searchParams.get('cc')}:${idsOf(request).join()}`)).toEqual([
      'GB:7003,7004',
    ]);
    expect(fixture.resultsFor('p-resume')[1]!.body).toEqual({
      pattern: 'apps.prices.done',
      data: { taskId: 'p-resume', updated: range(7001, 4), failed: [] },
    });
  });
});
