import { describe, expect, it } from 'vitest';

import { waitFor } from '../support/rmq';
import { range, sleep } from '../support/shapes';
import { appDetailsEntry } from '../support/steam.stand-in';
import { recordDrill } from './support/drill-report';
import { expectReportedOnce, useDrill } from './support/use-drill';

const GRACE_MS = 3000;
/** The contract's bound on a graceful shutdown: the grace period, then 5 s to requeue and close. */
const EXIT_BOUND_MS = GRACE_MS + 5000;
/** How long each short task's Steam answer takes: well inside the grace period. */
const SHORT_STEAM_DELAY_MS = 1000;

/**
 * Drill 2: SIGTERM while four tasks are in flight. Three short ones finish
 * inside the grace period (their result is confirmed, then they are acked);
 * one long batch does not and goes back to the queue, with two tasks that were
 * never delivered. A fresh worker then finishes the rest: every task ends with
 * exactly one `.done`, every pair reaches the backend.
 */
describe('drill: SIGTERM mid-batch', () => {
  const drill = useDrill('sigterm');

  it('finishes the short tasks in the grace period, requeues the long batch, exits 0 and loses nothing', async () => {
    const longApps = range(3000, 60);
    const longCountries = ['DE', 'US'];
    const inFlightShort = ['short-1', 'short-2', 'short-3'];
    const queuedShort = ['queued-1', 'queued-2'];
    const shortApp = (taskId: string) => 2000 + [...inFlightShort, ...queuedShort].indexOf(taskId) + 1;
    const slowApps = new Set(inFlightShort.map(shortApp));
    drill.standIns.steam.script = ({ appId, country }) =>
      slowApps.has(appId)
        ? { status: 200, body: { [appId]: appDetailsEntry(appId, country) }, delayMs: SHORT_STEAM_DELAY_MS }
        : undefined;
    const env = {
      WORKER_CONCURRENCY: '4',
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      // 120 pairs at 10 a second: the batch needs ~12 s, far beyond the grace period.
      STEAM_RATE_LIMIT: '10',
      STEAM_RATE_WINDOW_MS: '1000',
      // A small window of the batch in the Steam queue, so the short tasks' requests are not stuck behind it.
      STEAM_FEED_WINDOW: '4',
      // The three slow Steam answers run side by side and leave a slot for the batch.
      STEAM_EGRESS_CONCURRENCY: '4',
    };
    const first = await drill.spawn(env);

    // Prefetch 4: the batch and the three short tasks are delivered, the last two wait in the queue.
    drill.publish({ pattern: 'apps.fetch', data: { taskId: 'long', appIds: longApps, countries: longCountries } });
    for (const taskId of [...inFlightShort, ...queuedShort]) {
      drill.publish({ pattern: 'app.fetch', data: { taskId, appId: shortApp(taskId), country: 'US' } });
    }
    const longStored = () => longApps.filter((appId) => drill.standIns.backend.stored.has(`${appId}/DE`)).length;
    await waitFor(
      () =>
        [...slowApps].every((appId) =>
          drill.standIns.steam.appDetailsRequests.some((r) => r.url.searchParams.get('appids') === String(appId)),
        ) && longStored() >= 3,
      30_000,
      'the short tasks waiting on Steam and the batch under way',
    );

    const termAt = Date.now();
    const exitCode = await first.stop('SIGTERM');
    const exitMs = Date.now() - termAt;
    expect(exitCode).toBe(0);
    expect(exitMs).toBeLessThanOrEqual(EXIT_BOUND_MS);

    // Finished in the grace period: each result was confirmed before the worker exited.
    await waitFor(() => inFlightShort.every((taskId) => drill.resultsFor(taskId).length >= 1), 5000, 'short results');
    expect(drill.resultsFor('long')).toEqual([]);
    for (const taskId of queuedShort) expect(drill.resultsFor(taskId)).toEqual([]);
    // Requeued: the batch and the two undelivered tasks are ready in the queue, nothing unacked is lost.
    const ready = () => drill.rabbit.channel.checkQueue(drill.names.WORKER_QUEUE).then((q) => q.messageCount);
    await waitFor(
      async () => (await ready()) >= 1 + queuedShort.length,
      5000,
      'the unfinished tasks back in the queue',
    );
    expect(await ready()).toBe(1 + queuedShort.length);
    const pairsBeforeRestart = drill.standIns.backend.stored.size;

    drill.standIns.steam.script = undefined;
    await drill.spawn(env);
    const allTasks = ['long', ...inFlightShort, ...queuedShort];
    await waitFor(() => allTasks.every((taskId) => drill.resultsFor(taskId).length >= 1), 45_000, 'every result');
    // A duplicate (a finished task redone) would arrive right behind.
    await sleep(1500);

    for (const taskId of allTasks) expect(drill.resultsFor(taskId), taskId).toHaveLength(1);
    expectReportedOnce(drill, 'long', {
      pattern: 'apps.fetch.done',
      data: { taskId: 'long', updated: longApps, failed: [] },
    });
    for (const taskId of [...inFlightShort, ...queuedShort]) {
      expectReportedOnce(drill, taskId, {
        pattern: 'app.fetch.done',
        data: { taskId, updated: [shortApp(taskId)], failed: [] },
      });
    }
    const expectedPairs = [
      ...longApps.flatMap((appId) => longCountries.map((cc) => `${appId}/${cc}`)),
      ...[...inFlightShort, ...queuedShort].map((taskId) => `${shortApp(taskId)}/US`),
    ];
    expect(expectedPairs.filter((pair) => !drill.standIns.backend.stored.has(pair))).toEqual([]);
    expect(drill.deadLetters).toEqual([]);

    recordDrill({
      drill: '2 SIGTERM mid-batch',
      outcome: 'pass',
      figure:
        `exit 0 in ${(exitMs / 1000).toFixed(1)} s (grace ${GRACE_MS / 1000} s); ` +
        `${inFlightShort.length} finished in the grace, 1 requeued (${pairsBeforeRestart} pairs before restart); ` +
        `${allTasks.length} tasks → ${allTasks.length} results, lost 0, duplicates 0`,
    });
  });
});
