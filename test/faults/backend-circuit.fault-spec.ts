import { beforeAll, describe, expect, it } from 'vitest';

import { waitFor } from '../support/rmq';
import { FetchDone, range } from '../support/shapes';
import { recordDrill } from './support/drill-report';
import { useDrill } from './support/use-drill';

const CIRCUIT_FAILURES = 5;

/**
 * Drill 14: while the auth server refuses the worker's credentials, a batch
 * stops spending Steam requests on pairs it could never push, and reports
 * them `backend_error` once the circuit gives up.
 */
describe('drill: backend circuit', () => {
  const drill = useDrill('backend-circuit');

  beforeAll(async () => {
    drill.standIns.auth.script = () => ({ status: 400, body: { error: 'invalid_client' } });
    await drill.spawn({
      BACKEND_CIRCUIT_FAILURES: String(CIRCUIT_FAILURES),
      BACKEND_CIRCUIT_PROBE_MS: '500',
      BACKEND_CIRCUIT_GIVE_UP_MS: '2000',
      STEAM_RATE_LIMIT: '20',
      STEAM_RATE_WINDOW_MS: '1000',
      LOG_LEVEL: 'info',
    });
  });

  it('spends about BACKEND_CIRCUIT_FAILURES Steam requests on a 100-app batch it cannot push, and fails every app backend_error', async () => {
    const appIds = range(7000, 100);
    const started = Date.now();

    drill.publish({ pattern: 'apps.fetch', data: { taskId: 'refused', appIds, countries: ['US'] } });
    await waitFor(() => drill.resultsFor('refused').length >= 1, 60_000, 'the result');

    const { data } = drill.resultsFor('refused')[0]!.body as FetchDone;
    const steamRequests = drill.standIns.steam.appDetailsRequests.length;
    expect(data.updated).toEqual([]);
    expect(data.failed).toEqual(appIds.map((appId) => ({ appId, countries: ['US'], reason: 'backend_error' })));
    expect(steamRequests).toBeLessThanOrEqual(2 * CIRCUIT_FAILURES);
    // The probes were token requests: nothing was ever pushed.
    expect(drill.standIns.backend.requests).toHaveLength(0);
    recordDrill({
      drill: '14 backend circuit (auth 400)',
      outcome: 'pass',
      figure:
        `${steamRequests} Steam requests for 100 pairs (circuit at ${CIRCUIT_FAILURES} failures), ` +
        `all backend_error in ${((Date.now() - started) / 1000).toFixed(1)} s, ${drill.standIns.auth.requests.length} auth requests`,
    });
  });
});
