import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { BatchFetchUseCase } from '../../src/tasks/use-cases/batch-fetch.use-case';

import { maxInSlidingWindow } from '../support/http-stand-in';
import { waitFor } from '../support/rmq';
import {
  isolatedNames,
  startStandIns,
  startTestWorker,
  StandIns,
  testEnvironment,
  TestWorker,
  watchQueues,
} from '../support/worker.harness';

const LIMIT = 5;
const WINDOW_MS = 1000;

/**
 * Two worker instances share one Redis; Steam (the stand-in) counts what
 * arrives in every sliding window. A fixed-window counter would let up to
 * 2·L−1 through across a window edge.
 */
describe('Steam rate limit across worker instances', () => {
  const names = isolatedNames('rate');
  let standIns: StandIns;
  let workers: TestWorker[];
  const tasksRun = [0, 0];
  let queues: Awaited<ReturnType<typeof watchQueues>>;

  beforeAll(async () => {
    standIns = await startStandIns();
    const env = {
      ...testEnvironment(standIns, names),
      STEAM_RATE_LIMIT: String(LIMIT),
      STEAM_RATE_WINDOW_MS: String(WINDOW_MS),
      WORKER_CONCURRENCY: '4',
    };
    workers = [await startTestWorker(env), await startTestWorker(env)];
    workers.forEach((worker, index) => {
      const useCase = worker.app.get(BatchFetchUseCase);
      const execute = useCase.execute.bind(useCase);
      vi.spyOn(useCase, 'execute').mockImplementation((...args) => {
        tasksRun[index]!++;
        return execute(...args);
      });
    });
    queues = await watchQueues(names);
    for (const worker of workers) {
      await waitFor(async () => (await fetch(`${worker.url}/health/ready`)).status === 200, 20_000, 'readiness');
    }
  });

  afterAll(async () => {
    await Promise.all(workers?.map((worker) => worker.close()) ?? []);
    await queues?.rabbit.deleteQueues(names.WORKER_QUEUE, `${names.WORKER_QUEUE}.dlq`, names.ORCHESTRATOR_QUEUE);
    await queues?.rabbit.close();
    await standIns?.stop();
  });

  const doneCount = () =>
    queues.results.filter((m) => (m.body as { pattern: string }).pattern.endsWith('.done')).length;

  it('never lets more than L requests through in any window, for a steady backlog from both instances', async () => {
    const before = standIns.steam.requests.length;
    for (let task = 0; task < 6; task++) {
      queues.rabbit.publish(names.WORKER_QUEUE, {
        pattern: 'apps.fetch',
        data: { taskId: `steady-${task}`, appIds: [task * 10 + 1, task * 10 + 2], countries: ['US', 'DE'] },
      });
    }
    await waitFor(() => doneCount() >= 6, 30_000, 'six results');
    const times = standIns.steam.arrivalTimes.slice(before);
    expect(times).toHaveLength(24);
    expect(maxInSlidingWindow(times, WINDOW_MS)).toBeLessThanOrEqual(LIMIT);
    // Both instances worked on the backlog (they share the queue and the limit).
    expect(tasksRun.every((count) => count > 0)).toBe(true);
  });

  it('holds the limit for a burst that arrives late in a window opened by a lone request', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2 * WINDOW_MS));
    const before = standIns.steam.requests.length;
    const doneBefore = doneCount();
    queues.rabbit.publish(names.WORKER_QUEUE, {
      pattern: 'app.fetch',
      data: { taskId: 'lone', appId: 501, country: 'US' },
    });
    await waitFor(() => standIns.steam.requests.length > before, 10_000, 'the lone request');
    // Late in the window the lone request opened: a fixed window would reset soon after.
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS * 0.8));
    for (let task = 0; task < 4; task++) {
      queues.rabbit.publish(names.WORKER_QUEUE, {
        pattern: 'apps.fetch',
        data: { taskId: `burst-${task}`, appIds: [600 + task], countries: ['US', 'DE', 'FR'] },
      });
    }
    await waitFor(() => doneCount() >= doneBefore + 5, 30_000, 'the burst results');
    const times = standIns.steam.arrivalTimes.slice(before);
    expect(times).toHaveLength(13);
    expect(maxInSlidingWindow(times, WINDOW_MS)).toBeLessThanOrEqual(LIMIT);
  });
});
