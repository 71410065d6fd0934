import { describe, expect, it } from 'vitest';

import { ReceivedMessage, waitFor } from '../support/rmq';
import { range, sleep, taskIdOf } from '../support/shapes';
import { useWorld } from '../support/vitest-world';

interface ProgressData {
  taskId: string;
  pattern: string;
  done: number;
  failed: number;
  total: number;
}

/** How long a test listens after a result for a task.progress that must not come: 5 intervals. */
const QUIET_MS = 1000;

const patternOf = (message: ReceivedMessage) => (message.body as { pattern: string }).pattern;

/**
 * `task.progress` (docs/contract.md#progress): with TASK_PROGRESS_MS = 200 and
 * a Steam budget of 10 requests a second, a batch of 30 pairs lasts about 3 s.
 */
describe('task.progress while a batch runs', () => {
  const fixture = useWorld('task-progress', () => ({
    TASK_PROGRESS_MS: '200',
    STEAM_RATE_LIMIT: '10',
    STEAM_RATE_WINDOW_MS: '1000',
    // Two apps per price request: 15 requests for 10 apps × 3 countries.
    STEAM_PRICE_BATCH: '2',
  }));

  /**
   * Waits for the result of `taskId` among the messages after the first
   * `since`, listens QUIET_MS more, and splits what came for the task: the
   * progress events before its result, and whatever came after it.
   */
  async function delivery(taskId: string, since = 0) {
    const messages = () => fixture.results.slice(since).filter((message) => taskIdOf(message) === taskId);
    const isResult = (message: ReceivedMessage) => patternOf(message) !== 'task.progress';
    await waitFor(() => messages().some(isResult), 30_000, `the result of ${taskId}`);
    await sleep(QUIET_MS);
    const all = messages();
    const resultAt = all.findIndex(isResult);
    return {
      progressMessages: all.slice(0, resultAt),
      progress: all.slice(0, resultAt).map((message) => (message.body as { data: ProgressData }).data),
      result: patternOf(all[resultAt]!),
      afterResult: all.slice(resultAt + 1),
    };
  }

  const ascending = (values: number[]) => [...values].sort((a, b) => a - b);

  it('counts the settled and failed pairs of apps.fetch, and sends none after its result', async () => {
    const task = { taskId: 'progress-fetch', appIds: range(1, 10), countries: ['US', 'DE', 'GB'] };
    // Every US pair is rejected: 20 accepted, 10 failed.
    fixture.standIns.backend.script = ({ country }) => (country === 'US' ? { status: 422, body: {} } : undefined);
    fixture.publishTask('apps.fetch', task);

    const { progress, progressMessages, result, afterResult } = await delivery(task.taskId);

    expect(result).toBe('apps.fetch.done');
    expect(afterResult).toEqual([]);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const event of progress) {
      expect(event).toMatchObject({ taskId: task.taskId, pattern: 'apps.fetch', total: 30 });
      expect(event.failed).toBeLessThanOrEqual(Math.min(event.done, 10));
    }
    const done = progress.map((event) => event.done);
    expect(done).toEqual(ascending(done));
    expect(done[0]).toBeLessThan(done.at(-1)!);
    expect(done.at(-1)).toBeLessThanOrEqual(30);
    expect(progress.at(-1)!.failed).toBeGreaterThan(0);
    // Persistent (mandatory and confirms the probe cannot see).
    expect(progressMessages[0]!.raw.properties.deliveryMode).toBe(2);
  });

  it('counts, in a resumed task, the pairs accepted in its earlier delivery', async () => {
    // The task above again: only its 10 US pairs are left (about 1 s), 20 were accepted before.
    fixture.standIns.backend.script = undefined;
    const since = fixture.results.length;
    fixture.publishTask('apps.fetch', {
      taskId: 'progress-fetch',
      appIds: range(1, 10),
      countries: ['US', 'DE', 'GB'],
    });

    const { progress, result, afterResult } = await delivery('progress-fetch', since);

    expect(result).toBe('apps.fetch.done');
    expect(afterResult).toEqual([]);
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0]!.done).toBeGreaterThanOrEqual(20);
    for (const event of progress) expect(event).toMatchObject({ total: 30, failed: 0 });
  });

  it('counts the pairs of apps.prices, every app in every country, and sends none after its result', async () => {
    const task = { taskId: 'progress-prices', appIds: range(101, 10), countries: ['US', 'DE', 'GB'] };
    fixture.publishTask('apps.prices', task);

    const { progress, result, afterResult } = await delivery(task.taskId);

    expect(result).toBe('apps.prices.done');
    expect(afterResult).toEqual([]);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const event of progress) {
      expect(event).toMatchObject({ taskId: task.taskId, pattern: 'apps.prices', total: 30, failed: 0 });
    }
    const done = progress.map((event) => event.done);
    expect(done).toEqual(ascending(done));
  });
});

describe('task.progress with TASK_PROGRESS_MS=0', () => {
  const fixture = useWorld('task-progress-off', () => ({
    TASK_PROGRESS_MS: '0',
    STEAM_RATE_LIMIT: '10',
    STEAM_RATE_WINDOW_MS: '1000',
  }));

  it('sends no task.progress at all, however long the batch', async () => {
    fixture.publishTask('apps.fetch', { taskId: 'progress-off', appIds: range(1, 15), countries: ['US'] });
    await fixture.resultOf('progress-off');
    await sleep(QUIET_MS);

    expect(fixture.results.map(patternOf)).toEqual(['apps.fetch.done']);
  });
});
