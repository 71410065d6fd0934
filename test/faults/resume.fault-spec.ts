import { describe, expect, it } from 'vitest';

import { waitFor } from '../support/rmq';
import { FetchDone, range } from '../support/shapes';
import { recordDrill } from './support/drill-report';
import { useDrill } from './support/use-drill';

const BACKEND_CONCURRENCY = 4;
const FEED_WINDOW = 6;

/**
 * Drill 10: a long batch interrupted by SIGTERM, then by SIGKILL, resumes from
 * its progress in Redis: after SIGTERM no pair the backend had accepted is
 * fetched again; after SIGKILL at most the pairs that were in flight.
 */
describe('drill: resume after SIGTERM and SIGKILL', () => {
  const drill = useDrill('resume');

  const accepted = () => new Set(drill.standIns.backend.stored.keys());
  /** Pairs Steam was asked for from request number `from` on. */
  const requestedSince = (from: number) =>
    drill.standIns.steam.appDetailsRequests
      .slice(from)
      .map((request) => `${request.url.searchParams.get('appids')}/${request.url.searchParams.get('cc')}`);

  it('repeats nothing the backend accepted before SIGTERM, and at most the pairs in flight after SIGKILL', async () => {
    const appIds = range(5000, 40);
    const countries = ['DE', 'FR', 'US'];
    const env = {
      STEAM_RATE_LIMIT: '40',
      STEAM_RATE_WINDOW_MS: '1000',
      BACKEND_CONCURRENCY: String(BACKEND_CONCURRENCY),
      STEAM_FEED_WINDOW: String(FEED_WINDOW),
      SHUTDOWN_GRACE_MS: '200',
    };
    const task = { pattern: 'apps.fetch', data: { taskId: 'long-batch', appIds, countries } };

    const first = await drill.spawn(env);
    drill.publish(task);
    await waitFor(() => drill.standIns.backend.stored.size >= 30, 30_000, 'a third of the batch');
    expect(await first.stop('SIGTERM')).toBe(0);
    const acceptedBeforeTerm = accepted();

    const stepTwo = drill.standIns.steam.appDetailsRequests.length;
    const second = await drill.spawn(env);
    await waitFor(() => drill.standIns.backend.stored.size >= 70, 30_000, 'two thirds of the batch');
    expect(await second.stop('SIGKILL')).toBe('SIGKILL');
    const afterTerm = requestedSince(stepTwo);
    const acceptedBeforeKill = accepted();

    const stepThree = drill.standIns.steam.appDetailsRequests.length;
    await drill.spawn(env);
    await waitFor(() => drill.resultsFor('long-batch').length === 1, 60_000, 'the result');
    const afterKill = requestedSince(stepThree);

    const repeatedAfterTerm = afterTerm.filter((pair) => acceptedBeforeTerm.has(pair));
    const repeatedAfterKill = afterKill.filter((pair) => acceptedBeforeKill.has(pair));
    expect(repeatedAfterTerm).toEqual([]);
    expect(repeatedAfterKill.length).toBeLessThanOrEqual(BACKEND_CONCURRENCY + FEED_WINDOW);
    expect(drill.standIns.backend.stored.size).toBe(appIds.length * countries.length);
    const results = drill.resultsFor('long-batch');
    expect(results).toHaveLength(1);
    expect((results[0]!.body as FetchDone).data).toEqual({ taskId: 'long-batch', updated: appIds, failed: [] });
    recordDrill({
      drill: '10 resume (SIGTERM, SIGKILL)',
      outcome: 'pass',
      figure:
        `repeated after SIGTERM ${repeatedAfterTerm.length} of ${acceptedBeforeTerm.size} accepted; ` +
        `after SIGKILL ${repeatedAfterKill.length} of ${acceptedBeforeKill.size} (bound ${BACKEND_CONCURRENCY + FEED_WINDOW})`,
    });
  });
});
