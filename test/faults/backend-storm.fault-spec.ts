import { beforeAll, describe, expect, it } from 'vitest';

import type { PushCall } from '../support/backend.stand-in';
import { waitFor } from '../support/rmq';
import { range, sleep } from '../support/shapes';
import { recordDrill } from './support/drill-report';
import { seededRandom } from './support/random';
import { expectReportedOnce, useDrill } from './support/use-drill';
const MAX_ATTEMPTS = 5;
const BACKOFF_MS = 250;
/**
 * The storm lasts less than the shortest retry budget of one push: its
 * backoffs add up to BACKOFF_MS × (1 + 2 + 4 + 8) − 20 % jitter = 3 s. So a
 * push that meets the storm always has an attempt after it, whatever the dice.
 */
const STORM_MS = 2500;

/** Drill 5: the backend answers 503 to half the pushes for a while, or to some apps for good. */
describe('drill: backend storm', () => {
  const drill = useDrill('backend-storm');
  const pushesOf = (appIds: number[]) =>
    drill.standIns.backend.requests.filter((request) =>
      appIds.includes(Number(/^\/apps\/(\d+)\//.exec(request.url.pathname)?.[1])),
    );

  beforeAll(async () => {
    await drill.spawn({
      BACKEND_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      BACKEND_BACKOFF_MS: String(BACKOFF_MS),
      STEAM_RATE_LIMIT: '50',
      STEAM_RATE_WINDOW_MS: '1000',
      LOG_LEVEL: 'info',
    });
  });

  /** Publishes a batch and waits for its result, and a while for a duplicate. */
  async function settle(taskId: string, appIds: number[], countries: string[], what: string): Promise<void> {
    drill.publish({ pattern: 'apps.fetch', data: { taskId, appIds, countries } });
    await waitFor(() => drill.resultsFor(taskId).length >= 1, 45_000, what);
    await sleep(500);
  }

  it('retries the pushes refused during a 503 storm and reports every app updated', async () => {
    const appIds = range(1001, 30);
    const countries = ['DE', 'US'];
    const random = seededRandom(5);
    let stormStart: number | undefined;
    let refused = 0;
    drill.standIns.backend.script = ({ request }: PushCall) => {
      stormStart ??= request.at;
      if (request.at - stormStart < STORM_MS && random() < 0.5) {
        refused++;
        return { status: 503, body: { error: 'unavailable' } };
      }
      return undefined;
    };

    await settle('storm', appIds, countries, 'the result of the storm batch');

    expectReportedOnce(drill, 'storm', {
      pattern: 'apps.fetch.done',
      data: { taskId: 'storm', updated: appIds, failed: [] },
    });
    const missing = appIds.flatMap((appId) =>
      countries.filter((cc) => !drill.standIns.backend.stored.has(`${appId}/${cc}`)),
    );
    expect(missing).toEqual([]);
    // The storm did happen, and every refused push was tried again: one accepted PUT per pair.
    const pushes = pushesOf(appIds).length;
    expect(refused).toBeGreaterThan(0);
    expect(pushes).toBe(appIds.length * countries.length + refused);
    recordDrill({
      drill: '5 backend storm (50 % 503)',
      outcome: 'pass',
      figure: `${refused} of ${pushes} pushes refused in ${STORM_MS / 1000} s; ${appIds.length}/${appIds.length} apps updated, 0 lost`,
    });
  });

  it('reports apps whose backend stays down past the retry budget as failed with backend_error, never updated', async () => {
    const appIds = range(2001, 10);
    const countries = ['DE', 'US'];
    // 2003 and 2007 are down in every country, 2005 only in DE.
    const down = (appId: number, country: string) =>
      appId === 2003 || appId === 2007 || (appId === 2005 && country === 'DE');
    drill.standIns.backend.script = ({ appId, country }: PushCall) =>
      down(appId, country) ? { status: 503, body: { error: 'unavailable' } } : undefined;

    await settle('down', appIds, countries, 'the result of the batch against a down backend');

    expectReportedOnce(drill, 'down', {
      pattern: 'apps.fetch.done',
      data: {
        taskId: 'down',
        updated: appIds.filter((appId) => ![2003, 2005, 2007].includes(appId)),
        failed: [
          { appId: 2003, countries: ['DE', 'US'], reason: 'backend_error' },
          { appId: 2005, countries: ['DE'], reason: 'backend_error' },
          { appId: 2007, countries: ['DE', 'US'], reason: 'backend_error' },
        ],
      },
    });
    // Each down pair was tried exactly BACKEND_MAX_ATTEMPTS times, then given up.
    const attempts = new Map<string, number>();
    for (const request of pushesOf(appIds)) {
      const [, , appId, , country] = request.url.pathname.split('/');
      if (down(Number(appId), country!))
        attempts.set(`${appId}/${country}`, (attempts.get(`${appId}/${country}`) ?? 0) + 1);
    }
    expect(Object.fromEntries(attempts)).toEqual({
      '2003/DE': MAX_ATTEMPTS,
      '2003/US': MAX_ATTEMPTS,
      '2005/DE': MAX_ATTEMPTS,
      '2007/DE': MAX_ATTEMPTS,
      '2007/US': MAX_ATTEMPTS,
    });
    recordDrill({
      drill: '5 backend down past retries',
      outcome: 'pass',
      figure: `5 down pairs × ${MAX_ATTEMPTS} attempts each; 3 apps failed backend_error, 0 reported updated`,
    });
  });
});
