import { beforeAll, describe, expect, it } from 'vitest';

import { maxInSlidingWindow } from '../support/http-stand-in';
import { waitFor } from '../support/rmq';
import { sleep } from '../support/shapes';
import { recordDrill } from './support/drill-report';
import { DrillWorker, watchStandInLag } from './support/drill';
import { useDrill } from './support/use-drill';

const REPLICAS = 3;
const RATE_LIMIT = 10;
const RATE_WINDOW_MS = 1000;
const TASKS = 6;
const APPS_PER_TASK = 5;
const COUNTRIES = ['DE', 'US'];

/** The taskIds whose batch this worker started, from its JSON log lines ("Task <taskId>: …"). */
function tasksStartedBy(worker: DrillWorker): string[] {
  const taskIds: string[] = [];
  for (const line of worker.output().split('\n')) {
    let entry: { message?: unknown };
    try {
      entry = JSON.parse(line) as { message?: unknown };
    } catch {
      continue;
    }
    const started = typeof entry.message === 'string' ? /^Task (\S+): \d+ app/.exec(entry.message) : null;
    if (started) taskIds.push(started[1]!);
  }
  return taskIds;
}

/** Drill 8: three worker processes share one queue and one Redis. */
describe('drill: replicas', () => {
  const drill = useDrill('replicas');
  let workers: DrillWorker[];

  beforeAll(async () => {
    const env = {
      STEAM_RATE_LIMIT: String(RATE_LIMIT),
      STEAM_RATE_WINDOW_MS: String(RATE_WINDOW_MS),
      LOG_LEVEL: 'info',
    };
    workers = await Promise.all(Array.from({ length: REPLICAS }, () => drill.spawn(env)));
  });

  it('holds the global limit in every sliding window while the tasks spread across the processes', async () => {
    const tasks = Array.from({ length: TASKS }, (_, t) => ({
      taskId: `replica-task-${t + 1}`,
      appIds: Array.from({ length: APPS_PER_TASK }, (_, a) => 4000 + t * 100 + a + 1),
    }));
    const lag = watchStandInLag();
    let standInLagMs: number;
    for (const { taskId, appIds } of tasks) {
      drill.publish({ pattern: 'apps.fetch', data: { taskId, appIds, countries: COUNTRIES } });
    }
    try {
      await waitFor(
        () => tasks.every(({ taskId }) => drill.resultsFor(taskId).length >= 1),
        50_000,
        'the results of every task',
      );
    } finally {
      standInLagMs = lag.stop();
    }
    await sleep(500);

    // One exact result per task, every pair at the backend.
    for (const { taskId, appIds } of tasks) {
      expect(drill.resultsFor(taskId).map((m) => m.body)).toEqual([
        { pattern: 'apps.fetch.done', data: { taskId, updated: appIds, failed: [] } },
      ]);
    }
    const pairs = tasks.flatMap(({ appIds }) => appIds.flatMap((appId) => COUNTRIES.map((cc) => `${appId}/${cc}`)));
    expect(pairs.filter((pair) => !drill.standIns.backend.stored.has(pair))).toEqual([]);

    // Steam saw one request per pair, never more than the limit in any window, all processes together.
    const arrivals = drill.standIns.steam.arrivalTimes;
    expect(arrivals).toHaveLength(pairs.length);
    const busiest = maxInSlidingWindow(arrivals, RATE_WINDOW_MS - standInLagMs);
    expect(busiest).toBeLessThanOrEqual(RATE_LIMIT);

    // Each task ran in exactly one process, and more than one process ran tasks.
    const started = workers.map(tasksStartedBy);
    expect(started.flat().sort()).toEqual(tasks.map(({ taskId }) => taskId).sort());
    const busy = started.filter((taskIds) => taskIds.length > 0).length;
    expect(busy).toBeGreaterThanOrEqual(2);
    expect(workers.every((worker) => worker.child.exitCode === null)).toBe(true);

    recordDrill({
      drill: '8 replicas (3 processes)',
      outcome: 'pass',
      figure:
        `max ${busiest} in any ${RATE_WINDOW_MS} ms less ${Math.round(standInLagMs)} ms stand-in lag, ${maxInSlidingWindow(arrivals, RATE_WINDOW_MS)} raw ` +
        `(limit ${RATE_LIMIT}, ${arrivals.length} requests); tasks per process ${started.map((t) => t.length).join('/')}; ` +
        `${TASKS}/${TASKS} results, 0 lost`,
    });
  });
});
