import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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

type Done = { pattern: string; data: { taskId: string; updated: number[]; failed: unknown[] } };

/** A task delivered again fetches and pushes only what the backend has not accepted yet. */
describe('resuming a task from its progress in Redis', () => {
  const names = isolatedNames('resume');
  let standIns: StandIns;
  let worker: TestWorker;
  let queues: Awaited<ReturnType<typeof watchQueues>>;

  beforeAll(async () => {
    standIns = await startStandIns();
    worker = await startTestWorker({ ...testEnvironment(standIns, names), BACKEND_MAX_ATTEMPTS: '1' });
    queues = await watchQueues(names);
    await waitFor(async () => (await fetch(`${worker.url}/health/ready`)).status === 200, 20_000, 'readiness');
  });

  afterAll(async () => {
    await worker?.close();
    await queues?.rabbit.deleteQueues(names.WORKER_QUEUE, `${names.WORKER_QUEUE}.dlq`, names.ORCHESTRATOR_QUEUE);
    await queues?.rabbit.close();
    await standIns?.stop();
  });

  const results = () => queues.results.map((m) => m.body as Done);
  const steamPairs = (since: number) =>
    standIns.steam.appDetailsRequests
      .slice(since)
      .map((r) => `${r.url.searchParams.get('appids')}/${r.url.searchParams.get('cc')}`)
      .sort();

  it('redoes only the pairs not accepted before, and reports every app', async () => {
    const task = { pattern: 'apps.fetch', data: { taskId: 'resume-1', appIds: [3, 1, 2], countries: ['US', 'DE'] } };
    standIns.backend.script = ({ appId, country }) => (appId === 2 && country === 'DE' ? { status: 503 } : undefined);
    queues.rabbit.publish(names.WORKER_QUEUE, task);
    await waitFor(() => results().length === 1, 20_000, 'the first result');
    expect(results()[0]!.data).toMatchObject({ updated: [1, 3], failed: [{ appId: 2, countries: ['DE'] }] });

    standIns.backend.script = undefined;
    const before = standIns.steam.appDetailsRequests.length;
    queues.rabbit.publish(names.WORKER_QUEUE, task);
    await waitFor(() => results().length === 2, 20_000, 'the second result');
    expect(steamPairs(before)).toEqual(['2/DE']);
    expect(results()[1]!.data).toEqual({ taskId: 'resume-1', updated: [1, 2, 3], failed: [] });
  });

  it('starts over for a task without a taskId or message id: it cannot be told from another run', async () => {
    const task = { pattern: 'app.fetch', data: { appId: 7, country: 'US' } };
    queues.rabbit.publish(names.WORKER_QUEUE, task);
    queues.rabbit.publish(names.WORKER_QUEUE, task);
    await waitFor(() => results().length === 4, 20_000, 'two results');
    expect(steamPairs(0).filter((pair) => pair === '7/US')).toHaveLength(2);
  });

  it('resumes by the message id when the task has no taskId', async () => {
    const task = { pattern: 'app.fetch', data: { appId: 8, country: 'US' } };
    queues.rabbit.publish(names.WORKER_QUEUE, task, { messageId: 'message-8' });
    await waitFor(() => results().length === 5, 20_000, 'the first result');
    queues.rabbit.publish(names.WORKER_QUEUE, task, { messageId: 'message-8' });
    await waitFor(() => results().length === 6, 20_000, 'the second result');
    expect(steamPairs(0).filter((pair) => pair === '8/US')).toHaveLength(1);
    expect(
      results()
        .slice(4)
        .map((r) => r.data),
    ).toEqual([
      { taskId: 'message-8', updated: [8], failed: [] },
      { taskId: 'message-8', updated: [8], failed: [] },
    ]);
  });
});
