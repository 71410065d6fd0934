import { describe, expect, it } from 'vitest';

import { waitFor } from '../support/rmq';
import { FetchDone, range, sleep } from '../support/shapes';
import { recordDrill } from './support/drill-report';
import { useDrill } from './support/use-drill';

/** Drill 1: a worker killed outright mid-batch loses nothing. */
describe('drill: SIGKILL mid-batch', () => {
  const drill = useDrill('sigkill');

  it('redelivers the task to a fresh process, which pushes every pair and reports once', async () => {
    const appIds = range(1000, 20);
    const countries = ['US', 'DE'];
    const env = { STEAM_RATE_LIMIT: '20', STEAM_RATE_WINDOW_MS: '1000' };
    const first = await drill.spawn(env);
    drill.publish({ pattern: 'apps.fetch', data: { taskId: 'killed', appIds, countries } });
    await waitFor(() => drill.standIns.backend.stored.size >= 10, 30_000, 'the batch under way');
    expect(await first.stop('SIGKILL')).toBe('SIGKILL');
    const acceptedBeforeKill = drill.standIns.backend.stored.size;

    await drill.spawn(env);
    await waitFor(() => drill.resultsFor('killed').length >= 1, 60_000, 'the result');
    await sleep(1000);

    const results = drill.resultsFor('killed');
    const missing = appIds.flatMap((appId) =>
      countries.filter((cc) => !drill.standIns.backend.stored.has(`${appId}/${cc}`)),
    );
    expect(missing).toEqual([]);
    expect(results).toHaveLength(1);
    expect((results[0]!.body as FetchDone).data).toEqual({ taskId: 'killed', updated: appIds, failed: [] });
    recordDrill({
      drill: '1 SIGKILL mid-batch',
      outcome: 'pass',
      figure: `lost 0 of ${appIds.length * countries.length} pairs, results 1, ${acceptedBeforeKill} accepted before the kill`,
    });
  });
});
