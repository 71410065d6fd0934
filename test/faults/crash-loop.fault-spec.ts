import { describe, expect, it } from 'vitest';

import { waitFor } from '../support/rmq';
import { bodyOf, range, sleep } from '../support/shapes';
import { recordDrill } from './support/drill-report';
import { DrillWorker } from './support/drill';
import { useDrill } from './support/use-drill';

const MAX_DELIVERIES = 3;
/** The app whose Steam request takes the worker down with it. */
const DEADLY_APP = 4242;

/**
 * Drill 13: a task that kills the worker each time it runs ends in the
 * dead-letter queue after MAX_DELIVERIES deaths, and the tasks behind it go
 * on; deliveries the worker ends itself (SIGTERM) never count.
 */
describe('drill: crash loops', () => {
  const drill = useDrill('crash-loop');
  const env = {
    MAX_DELIVERIES: String(MAX_DELIVERIES),
    WORKER_CONCURRENCY: '1',
    STEAM_RATE_LIMIT: '10',
    STEAM_RATE_WINDOW_MS: '1000',
    SHUTDOWN_GRACE_MS: '500',
    LOG_LEVEL: 'info',
  };

  it('dead-letters a task that keeps killing the worker, then completes the task behind it', async () => {
    let current: DrillWorker = await drill.spawn(env);
    let kills = 0;
    let restarting: Promise<void> | undefined;
    const killAndRestart = async () => {
      kills++;
      const dying = current;
      // The next process boots while the dying one still holds the delivery.
      current = await drill.spawn(env, false);
      await dying.stop('SIGKILL');
    };
    drill.standIns.steam.script = ({ appId }) => {
      if (appId !== DEADLY_APP) return undefined;
      restarting ??= killAndRestart().finally(() => (restarting = undefined));
      return { status: 200, body: null, delayMs: 10_000 };
    };

    drill.publish({ pattern: 'apps.fetch', data: { taskId: 'deadly', appIds: [DEADLY_APP], countries: ['US'] } });
    drill.publish({ pattern: 'apps.fetch', data: { taskId: 'behind', appIds: [1, 2, 3], countries: ['US'] } });

    await waitFor(() => drill.resultsFor('behind').length >= 1, 60_000, 'the task behind the deadly one');
    await restarting;
    await sleep(1000);

    const failed = drill.resultsFor('deadly');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.body).toMatchObject({
      pattern: 'task.failed',
      data: { taskId: 'deadly', pattern: 'apps.fetch', error: { code: 'too_many_deliveries' } },
    });
    expect(drill.deadLetters).toHaveLength(1);
    expect(kills).toBe(MAX_DELIVERIES);
    expect(bodyOf(drill.resultsFor('behind')[0]!).data).toEqual({
      taskId: 'behind',
      updated: [1, 2, 3],
      failed: [],
    });
    recordDrill({
      drill: '13a crash loop',
      outcome: 'pass',
      figure: `dead-lettered after ${kills} deaths (MAX_DELIVERIES ${MAX_DELIVERIES}), the task behind completed, lost 0`,
    });
    drill.standIns.steam.script = undefined;
    await current.stop('SIGKILL');
  });

  it('completes a batch interrupted by SIGTERM more often than MAX_DELIVERIES before any progress', async () => {
    const appIds = range(3000, 10);
    // Pushes hang while the worker is being stopped: no delivery gets anywhere before its SIGTERM.
    let holdPushes = true;
    drill.standIns.backend.script = () =>
      holdPushes ? { status: 200, body: { stored: true }, delayMs: 20_000 } : undefined;
    drill.publish({ pattern: 'apps.fetch', data: { taskId: 'stopped-often', appIds, countries: ['US'] } });

    const stops = MAX_DELIVERIES + 2;
    for (let stop = 0; stop < stops; stop++) {
      const worker = await drill.spawn(env);
      const before = drill.standIns.steam.appDetailsRequests.length;
      await waitFor(() => drill.standIns.steam.appDetailsRequests.length > before, 20_000, 'the batch under way');
      expect(await worker.stop('SIGTERM')).toBe(0);
    }
    holdPushes = false;
    await drill.spawn(env);
    await waitFor(() => drill.resultsFor('stopped-often').length >= 1, 60_000, 'the result');

    expect(bodyOf(drill.resultsFor('stopped-often')[0]!).data).toEqual({
      taskId: 'stopped-often',
      updated: appIds,
      failed: [],
    });
    expect(drill.deadLetters.filter((m) => JSON.stringify(m.body).includes('stopped-often'))).toHaveLength(0);
    recordDrill({
      drill: '13b SIGTERM more than MAX_DELIVERIES',
      outcome: 'pass',
      figure: `${stops} SIGTERMs without progress (MAX_DELIVERIES ${MAX_DELIVERIES}), completed, results 1, dead letters 0`,
    });
  });
});
