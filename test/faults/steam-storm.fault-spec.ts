import { beforeAll, describe, expect, it } from 'vitest';

import { maxInSlidingWindow, Reply } from '../support/http-stand-in';
import { waitFor } from '../support/rmq';
import { range, sleep } from '../support/shapes';
import { recordDrill } from './support/drill-report';
import { watchStandInLag } from './support/drill';
import { seededRandom, shuffled } from './support/random';
import { expectReportedOnce, useDrill } from './support/use-drill';

const RATE_LIMIT = 10;
const RATE_WINDOW_MS = 1000;
const RETRY_AFTER_S = 1;
/** Redis' clock (the cooldown) and this process' clock (arrival times) may differ by a hair. */
const CLOCK_SLACK_MS = 5;

const TOO_MANY: Reply = { status: 429, body: null, headers: { 'Retry-After': String(RETRY_AFTER_S) } };
const NULL_BODY: Reply = { status: 200, body: null };
const RESET: Reply = { status: 0, reset: true };

/** Drill 6: Steam answers 429 with Retry-After, `null` bodies and resets. */
describe('drill: Steam storm', () => {
  const drill = useDrill('steam-storm');
  let workerUrl: string;

  beforeAll(async () => {
    const worker = await drill.spawn({
      STEAM_RATE_LIMIT: String(RATE_LIMIT),
      STEAM_RATE_WINDOW_MS: String(RATE_WINDOW_MS),
      STEAM_MAX_ATTEMPTS: '5',
      STEAM_BACKOFF_MS: '100',
      // Shorter than Retry-After: a cooldown that ignored the header would show.
      STEAM_COOLDOWN_MS: '200',
      LOG_LEVEL: 'info',
    });
    workerUrl = worker.url;
  });

  it('cools the egress down after each 429, stays within the sliding-window limit and updates every app', async () => {
    const appIds = range(3001, 20);
    const countries = ['DE', 'US'];
    // A replayable plan: which pairs meet which faults on which attempt (none after the third).
    const keys = shuffled(
      appIds.flatMap((appId) => countries.map((cc) => `${appId}/${cc}`)),
      seededRandom(6),
    );
    const plan = new Map<string, Reply[]>();
    keys.slice(0, 4).forEach((key) => plan.set(key, [TOO_MANY]));
    keys.slice(4, 12).forEach((key) => plan.set(key, [NULL_BODY]));
    keys.slice(12, 20).forEach((key) => plan.set(key, [RESET]));
    keys.slice(20, 23).forEach((key) => plan.set(key, [NULL_BODY, RESET]));
    keys.slice(23, 25).forEach((key) => plan.set(key, [RESET, TOO_MANY]));
    const planned = [...plan.values()].reduce((sum, faults) => sum + faults.length, 0);
    const planned429 = [...plan.values()].flat().filter((reply) => reply === TOO_MANY).length;
    const steam = drill.standIns.steam;
    /** Arrival times of the requests answered 429. */
    const tooMany: number[] = [];
    steam.script = ({ appId, country, attempt, request }) => {
      const reply = plan.get(`${appId}/${country}`)?.[attempt - 1];
      if (reply === TOO_MANY) tooMany.push(request.at);
      return reply;
    };

    // Watch the egress state from outside while the batch runs.
    const statesSeen = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const health = (await fetch(`${workerUrl}/health`)
          .then((response) => response.json())
          .catch(() => undefined)) as { details?: Record<string, { state?: string }> } | undefined;
        const state = health?.details?.['egress:direct']?.state;
        if (state) statesSeen.add(state);
        await sleep(100);
      }
    })();

    const lag = watchStandInLag();
    let standInLagMs: number;
    drill.publish({ pattern: 'apps.fetch', data: { taskId: 'steam-storm', appIds, countries } });
    try {
      await waitFor(() => drill.resultsFor('steam-storm').length >= 1, 50_000, 'the result of the storm batch');
    } finally {
      standInLagMs = lag.stop();
      watching = false;
      await watcher;
    }
    await sleep(500);

    expectReportedOnce(drill, 'steam-storm', {
      pattern: 'apps.fetch.done',
      data: { taskId: 'steam-storm', updated: appIds, failed: [] },
    });
    const missing = keys.filter((key) => !drill.standIns.backend.stored.has(key));
    expect(missing).toEqual([]);
    // Every fault cost exactly one more request, and every pair one that succeeded.
    const requests = steam.appDetailsRequests;
    expect(requests).toHaveLength(keys.length + planned);
    expect(tooMany).toHaveLength(planned429);

    // Nothing left through the egress while it cooled down after a 429 … (the cooldown
    // starts after the 429 was stamped, so a late stamp can only widen this gap)
    const arrivals = steam.arrivalTimes.sort((a, b) => a - b);
    const quietAfter429 = tooMany.map((at) => {
      const next = arrivals.find((time) => time > at);
      return next === undefined ? Infinity : next - at;
    });
    expect(Math.min(...quietAfter429)).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000 - CLOCK_SLACK_MS);
    expect(statesSeen).toContain('cooling');
    // … and no window of STEAM_RATE_WINDOW_MS held more than STEAM_RATE_LIMIT requests.
    const busiest = maxInSlidingWindow(arrivals, RATE_WINDOW_MS - standInLagMs);
    expect(busiest).toBeLessThanOrEqual(RATE_LIMIT);

    recordDrill({
      drill: '6 Steam storm (429, null, reset)',
      outcome: 'pass',
      figure:
        `${planned} faults (${planned429} × 429) in ${requests.length} requests; max ${busiest} in any ` +
        `${RATE_WINDOW_MS} ms less ${Math.round(standInLagMs)} ms stand-in lag, ${maxInSlidingWindow(arrivals, RATE_WINDOW_MS)} raw (limit ${RATE_LIMIT}); ` +
        `quiet ≥ ${Math.round(Math.min(...quietAfter429))} ms after each 429; ${appIds.length}/${appIds.length} apps updated`,
    });
  });
});
