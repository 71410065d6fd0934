import { describe, expect, it, vi } from 'vitest';

import { BatchFetchUseCase } from '../../src/tasks/use-cases/batch-fetch.use-case';

import { maxInSlidingWindow } from '../support/http-stand-in';
import { waitFor } from '../support/rmq';
import { bodyOf, sleep } from '../support/shapes';
import { useWorld } from '../support/vitest-world';

const LIMIT = 5;
const WINDOW_MS = 1000;

/**
 * Two worker instances share one Redis; Steam (the stand-in) counts what
 * arrives in every sliding window. A fixed-window counter would let up to
 * 2·L−1 through across a window edge.
 */
describe('Steam rate limit across worker instances', () => {
  const tasksRun = [0, 0];
  const world = useWorld(
    'rate',
    () => ({ STEAM_RATE_LIMIT: String(LIMIT), STEAM_RATE_WINDOW_MS: String(WINDOW_MS), WORKER_CONCURRENCY: '4' }),
    {
      workers: 2,
      // Counts the tasks each instance runs.
      onWorker: (worker, index) => {
        const useCase = worker.app.get(BatchFetchUseCase);
        const execute = useCase.execute.bind(useCase);
        vi.spyOn(useCase, 'execute').mockImplementation((...args) => {
          tasksRun[index]!++;
          return execute(...args);
        });
      },
    },
  );

  const doneCount = () => world.results.filter((m) => bodyOf(m).pattern.endsWith('.done')).length;

  it('never lets more than L requests through in any window, for a steady backlog from both instances', async () => {
    const before = world.standIns.steam.requests.length;
    for (let task = 0; task < 6; task++) {
      world.publishTask('apps.fetch', {
        taskId: `steady-${task}`,
        appIds: [task * 10 + 1, task * 10 + 2],
        countries: ['US', 'DE'],
      });
    }
    await waitFor(() => doneCount() >= 6, 30_000, 'six results');
    const times = world.standIns.steam.arrivalTimes.slice(before);
    expect(times).toHaveLength(24);
    expect(maxInSlidingWindow(times, WINDOW_MS)).toBeLessThanOrEqual(LIMIT);
    // Both instances worked on the backlog (they share the queue and the limit).
    expect(tasksRun.every((count) => count > 0)).toBe(true);
  });

  it('holds the limit for a burst that arrives late in a window opened by a lone request', async () => {
    await sleep(2 * WINDOW_MS);
    const before = world.standIns.steam.requests.length;
    const doneBefore = doneCount();
    world.publishTask('app.fetch', { taskId: 'lone', appId: 501, country: 'US' });
    await waitFor(() => world.standIns.steam.requests.length > before, 10_000, 'the lone request');
    // Late in the window the lone request opened: a fixed window would reset soon after.
    await sleep(WINDOW_MS * 0.8);
    for (let task = 0; task < 4; task++) {
      world.publishTask('apps.fetch', { taskId: `burst-${task}`, appIds: [600 + task], countries: ['US', 'DE', 'FR'] });
    }
    await waitFor(() => doneCount() >= doneBefore + 5, 30_000, 'the burst results');
    const times = world.standIns.steam.arrivalTimes.slice(before);
    expect(times).toHaveLength(13);
    expect(maxInSlidingWindow(times, WINDOW_MS)).toBeLessThanOrEqual(LIMIT);
  });
});
