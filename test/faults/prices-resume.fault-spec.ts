import { describe, expect, it } from 'vitest';

import { waitFor } from '../support/rmq';
import type { StoredPrice } from '../support/backend.stand-in';
import { FetchDone, range } from '../support/shapes';
import { Drill } from './support/drill';
import { recordDrill } from './support/drill-report';
import { useDrill } from './support/use-drill';

const BACKEND_CONCURRENCY = 4;
const FEED_WINDOW = 2;
const PRICE_BATCH = 20;
/** After SIGKILL at most the chunks in flight are asked and pushed again (docs/contract.md#resuming). */
const IN_FLIGHT_BOUND = BACKEND_CONCURRENCY + FEED_WINDOW * PRICE_BATCH;

const APP_IDS = range(7000, 300);
const COUNTRIES = ['DE', 'FR', 'US', 'JP'];
const PAIRS = APP_IDS.length * COUNTRIES.length;
/**
 * 300 apps × 4 countries in chunks of 20: 60 Steam requests at 10 a second,
 * some six seconds, so that a kill lands mid-run.
 */
const ENV = {
  STEAM_RATE_LIMIT: '10',
  STEAM_RATE_WINDOW_MS: '1000',
  STEAM_PRICE_BATCH: String(PRICE_BATCH),
  STEAM_FEED_WINDOW: String(FEED_WINDOW),
  BACKEND_CONCURRENCY: String(BACKEND_CONCURRENCY),
  SHUTDOWN_GRACE_MS: '200',
};

/**
 * The backend stores each price as it arrives and answers PUSH_DELAY_MS later,
 * so that at the kill some prices are accepted but not yet acknowledged: the
 * pushes in flight that a resume may repeat.
 */
const PUSH_DELAY_MS = 20;
function slowPriceAnswers(drill: Drill): void {
  drill.standIns.backend.script = ({ appId, country, kind, request }) => {
    if (kind !== 'price') return undefined;
    drill.standIns.backend.storedPrices.set(`${appId}/${country}`, JSON.parse(request.body) as StoredPrice);
    return { status: 200, body: { stored: true }, delayMs: PUSH_DELAY_MS };
  };
}

/** `<appId>/<country>` of a price push, from its URL. */
const pairOf = (pathname: string) => {
  const [, , appId, , country] = pathname.split('/');
  return `${appId}/${country}`;
};

/** Price pushes per pair from push number `from` on. */
function pushesPerPair(drill: Drill, from = 0): Map<string, number> {
  const counts = new Map<string, number>();
  for (const push of drill.standIns.backend.pricePushes.slice(from)) {
    const pair = pairOf(push.url.pathname);
    counts.set(pair, (counts.get(pair) ?? 0) + 1);
  }
  return counts;
}

/** Every pair's price reached the backend, and the task reported once, with every app updated. */
function expectCompleted(drill: Drill, taskId: string): void {
  const missing = APP_IDS.flatMap((appId) =>
    COUNTRIES.filter((cc) => !drill.standIns.backend.storedPrices.has(`${appId}/${cc}`)),
  );
  expect(missing).toEqual([]);
  const results = drill.resultsFor(taskId);
  expect(results).toHaveLength(1);
  expect(results[0]!.body).toEqual({ pattern: 'apps.prices.done', data: expect.anything() });
  expect((results[0]!.body as FetchDone).data).toEqual({ taskId, updated: APP_IDS, failed: [] });
}

/**
 * Runs a price task in a worker stopped by `signal` once a quarter of the
 * prices are in, then in a fresh worker to its result; checks that it
 * completed, and says what was pushed again.
 */
async function stopAndResume(drill: Drill, taskId: string, signal: 'SIGKILL' | 'SIGTERM') {
  slowPriceAnswers(drill);
  const first = await drill.spawn(ENV);
  drill.publish({ pattern: 'apps.prices', data: { taskId, appIds: APP_IDS, countries: COUNTRIES } });
  await waitFor(() => drill.standIns.backend.storedPrices.size >= 300, 30_000, 'a quarter of the prices');
  expect(await first.stop(signal)).toBe(signal === 'SIGKILL' ? 'SIGKILL' : 0);
  const acceptedBefore = new Set(drill.standIns.backend.storedPrices.keys());
  expect(acceptedBefore.size).toBeLessThan(PAIRS);

  const pushesBeforeResume = drill.standIns.backend.pricePushes.length;
  await drill.spawn(ENV);
  await waitFor(() => drill.resultsFor(taskId).length >= 1, 60_000, 'the result');

  expectCompleted(drill, taskId);
  const pushedTwice = [...pushesPerPair(drill)].filter(([, count]) => count > 1).map(([pair]) => pair);
  const repeatedAccepted = [...pushesPerPair(drill, pushesBeforeResume).keys()].filter((pair) =>
    acceptedBefore.has(pair),
  );
  return { acceptedBefore, pushedTwice, repeatedAccepted };
}

/**
 * Drill 10b: drill 10 for `apps.prices`. A long price task killed mid-run
 * resumes from its bitmap in Redis in a fresh worker: every price is pushed,
 * one result; after SIGKILL at most the chunks in flight are pushed twice,
 * after SIGTERM nothing the backend had accepted.
 */
describe('drill: resume of apps.prices after SIGKILL', () => {
  const drill = useDrill('prices-sigkill');

  it('redelivers the task, pushes every price, reports once and repeats at most the chunks in flight', async () => {
    const { acceptedBefore, pushedTwice, repeatedAccepted } = await stopAndResume(drill, 'prices-killed', 'SIGKILL');

    expect(pushedTwice.length).toBeLessThanOrEqual(IN_FLIGHT_BOUND);
    expect(repeatedAccepted.length).toBeLessThanOrEqual(IN_FLIGHT_BOUND);
    recordDrill({
      drill: '10b resume of apps.prices (SIGKILL)',
      outcome: 'pass',
      figure:
        `lost 0 of ${PAIRS} pairs, results 1, repeated pushes ${pushedTwice.length} (bound ${IN_FLIGHT_BOUND}), ` +
        `accepted before the kill ${acceptedBefore.size}`,
    });
  });
});

describe('drill: resume of apps.prices after SIGTERM', () => {
  const drill = useDrill('prices-sigterm');

  it('redelivers the task, pushes every price, reports once and repeats no accepted price', async () => {
    const { acceptedBefore, pushedTwice, repeatedAccepted } = await stopAndResume(drill, 'prices-stopped', 'SIGTERM');

    expect(repeatedAccepted).toEqual([]);
    recordDrill({
      drill: '10b resume of apps.prices (SIGTERM)',
      outcome: 'pass',
      figure:
        `lost 0 of ${PAIRS} pairs, results 1, repeated pushes of accepted pairs ${repeatedAccepted.length} ` +
        `(pairs pushed twice ${pushedTwice.length}), accepted before SIGTERM ${acceptedBefore.size}`,
    });
  });
});
