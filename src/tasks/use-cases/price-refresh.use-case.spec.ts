import { ConsoleLogger, Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { fakeProgressReporters } from '../../../test/support/fake-progress-reporters';
import type { BackendCircuit } from '../../backend/backend.circuit';
import type { AppCountryPriceRecord, BackendClient } from '../../backend/backend.client';
import type { WorkerConfig } from '../../config/worker-config';
import { SteamTransientError } from '../../steam/steam.errors';
import type { AppPricesRequest, PriceQuote } from '../../steam/steam-request';
import type { SteamRequestQueue } from '../../steam/steam-request.queue';
import type { CountryCurrencyStore } from '../prices/country-currency.store';
import type { ProgressReporterFactory } from '../progress/progress-reporter.factory';
import type { TaskProgressStore } from '../progress/task-progress.store';
import type { TaskRun } from '../task.runner';
import { PriceRefreshUseCase } from './price-refresh.use-case';

const MAX_ATTEMPTS = 3;
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

const priced = (appId: number, country: string): PriceQuote => ({
  available: true,
  isFree: false,
  price: {
    currency: country === 'US' ? 'USD' : 'EUR',
    initial: appId,
    final: appId,
    discountPercent: 0,
    initialFormatted: '',
    finalFormatted: `${appId}`,
  },
});

interface SteamRules {
  /** Fails this request for good (after its attempts). */
  fails?: (request: AppPricesRequest) => boolean;
  /** Fails this request for a reason that is not Steam's (Redis gone). */
  breaks?: (request: AppPricesRequest) => boolean;
  /** Leaves an app out of this answer. */
  lacks?: (appId: number, request: AppPricesRequest) => boolean;
  quote?: (appId: number, country: string) => PriceQuote;
}

/** The use case over stubs: Steam answers appdetails price requests by `rules`; the backend accepts unless told. */
function world(
  options: { rules?: SteamRules; backendFails?: (record: AppCountryPriceRecord) => Error | undefined } = {},
) {
  const { rules = {} } = options;
  const requests: AppPricesRequest[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const steam = {
    request: vi.fn(async (request: AppPricesRequest) => {
      requests.push(request);
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      inFlight--;
      if (rules.fails?.(request)) throw new SteamTransientError('503 (after 3 attempts)');
      if (rules.breaks?.(request)) throw new Error('Connection is closed.');
      return {
        quotes: request.appIds.map((appId) =>
          rules.lacks?.(appId, request) ? null : (rules.quote ?? priced)(appId, request.country),
        ),
      };
    }),
  };
  const pushed: AppCountryPriceRecord[] = [];
  const backend = {
    pushPrice: vi.fn(async (record: AppCountryPriceRecord) => {
      const failure = options.backendFails?.(record);
      if (failure) throw failure;
      pushed.push(record);
    }),
  };
  const accepted: number[] = [];
  const acceptedBefore = new Set<number>();
  const progressStore = {
    open: async () => ({
      acceptedBefore: acceptedBefore.size,
      wasAccepted: (index: number) => acceptedBefore.has(index),
      markAccepted: async (index: number) => void accepted.push(index),
    }),
  };
  const circuit = {
    whenFetchAllowed: vi.fn(async () => true),
    openSignal: new AbortController().signal,
    recordSuccess: vi.fn(),
    recordFailure: vi.fn(),
  };
  const { reported, reporters } = fakeProgressReporters();
  const config = {
    tasks: { maxBatchApps: 1000 },
    steam: { feedWindow: 4, retry: { maxAttempts: MAX_ATTEMPTS }, prices: { source: 'appdetails', batch: 100 } },
  } as WorkerConfig;
  const useCase = new PriceRefreshUseCase(
    steam as unknown as SteamRequestQueue,
    backend as unknown as BackendClient,
    circuit as unknown as BackendCircuit,
    {} as CountryCurrencyStore,
    progressStore as unknown as TaskProgressStore,
    config,
    reporters as unknown as ProgressReporterFactory,
  );
  return {
    useCase,
    requests,
    pushed,
    accepted,
    acceptedBefore,
    circuit,
    mostInFlight: () => mostInFlight,
    reporters,
    reported,
  };
}

function run(signal = new AbortController().signal): TaskRun {
  return { taskId: 't-1', signal, resumable: true, progressed: vi.fn(), pairFailed: vi.fn() };
}

describe(PriceRefreshUseCase.name, () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));

  it('asks for each country its apps in chunks of STEAM_PRICE_BATCH, one request each, and pushes every pair', async () => {
    const { useCase, requests, pushed } = world();
    const appIds = range(1, 250);

    const result = await useCase.execute({ appIds, countries: ['US', 'DE', 'GB'] }, run());

    expect(requests.map((r) => `${r.country}:${r.appIds.length}`).sort()).toEqual(
      ['DE:100', 'DE:100', 'DE:50', 'GB:100', 'GB:100', 'GB:50', 'US:100', 'US:100', 'US:50'].sort(),
    );
    expect(pushed).toHaveLength(750);
    expect(result).toEqual({ updated: appIds, failed: [] });
    expect(pushed.find((r) => r.appId === 7 && r.country === 'US')).toEqual({
      appId: 7,
      country: 'US',
      available: true,
      isFree: false,
      price: priced(7, 'US').price,
      source: 'appdetails',
      fetchedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('keeps at most STEAM_FEED_WINDOW chunks in flight', async () => {
    const { useCase, mostInFlight } = world();
    await useCase.execute({ appIds: range(1, 1000), countries: ['US', 'DE'] }, run());
    expect(mostInFlight()).toBe(4);
  });

  it('fails the apps of a chunk Steam kept failing in that country only', async () => {
    const { useCase } = world({ rules: { fails: ({ country, appIds }) => country === 'GB' && appIds[0] === 101 } });

    const result = await useCase.execute({ appIds: range(1, 150), countries: ['DE', 'GB'] }, run());

    expect(result.updated).toEqual(range(1, 100));
    expect(result.failed).toEqual(range(101, 50).map((appId) => ({ appId, countries: ['GB'], reason: 'steam_error' })));
  });

  it('asks Steam only for the pairs not accepted in an earlier delivery, and records each new one', async () => {
    const { useCase, requests, accepted, acceptedBefore } = world();
    // Apps 1..3 × DE, US: bit = appIndex × 2 + countryIndex; 1/DE, 2/DE and 3/US were accepted before.
    for (const bit of [0, 2, 5]) acceptedBefore.add(bit);
    const delivery = run();

    const result = await useCase.execute({ appIds: [3, 2, 1], countries: ['US', 'DE'] }, delivery);

    expect(requests.map((r) => `${r.country}:${r.appIds.join(',')}`).sort()).toEqual(['DE:3', 'US:1,2']);
    expect(accepted.sort()).toEqual([1, 3, 4]);
    expect(delivery.progressed).toHaveBeenCalledTimes(3);
    expect(result).toEqual({ updated: [1, 2, 3], failed: [] });
  });

  it('feeds task progress every settled pair of every chunk, counting those accepted before', async () => {
    const { useCase, acceptedBefore, reporters, reported } = world({
      rules: { fails: ({ country }) => country === 'GB' },
    });
    // Apps 1..3 × DE, GB, US: 1/DE was accepted before; the GB chunk fails.
    acceptedBefore.add(0);

    await useCase.execute({ appIds: [1, 2, 3], countries: ['US', 'DE', 'GB'] }, run());

    expect(reporters.start).toHaveBeenCalledWith(expect.anything(), 'apps.prices', 9, 1);
    expect(reported).toEqual({ accepted: 5, failed: 3, stopped: 1 });
  });

  it('fails the whole task, not its pairs, when something other than Steam fails (Redis gone)', async () => {
    const { useCase } = world({ rules: { breaks: ({ country }) => country === 'GB' } });

    await expect(useCase.execute({ appIds: range(1, 10), countries: ['DE', 'GB'] }, run())).rejects.toThrow(
      'Connection is closed.',
    );
  });

  it('stops when its task is stopped, with the reason, taking no further chunk', async () => {
    const stop = new AbortController();
    const stopAt201 = (_appId: number, { appIds }: AppPricesRequest) => {
      if (appIds[0] === 201) stop.abort(new Error('channel lost'));
      return false;
    };
    const { useCase, requests } = world({ rules: { lacks: stopAt201 } });

    await expect(useCase.execute({ appIds: range(1, 1000), countries: ['DE'] }, run(stop.signal))).rejects.toThrow(
      'channel lost',
    );
    expect(requests.length).toBeLessThan(10);
  });
});
