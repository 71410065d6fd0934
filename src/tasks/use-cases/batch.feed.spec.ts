import { describe, expect, it } from 'vitest';

import { batchLists, feedBatch } from './batch.feed';

const numbers = (count: number) =>
  function* (signal: AbortSignal) {
    for (let n = 1; n <= count && !signal.aborted; n++) yield n;
  };
const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe(batchLists.name, () => {
  it('de-duplicates and sorts both lists, as the result and the resume bitmap read them', () => {
    expect(batchLists({ appIds: [30, 10, 30, 20], countries: ['US', 'DE', 'US'] }, 4)).toEqual({
      appIds: [10, 20, 30],
      countries: ['DE', 'US'],
    });
  });

  it('refuses more appIds as sent than MAX_BATCH_APPS as an invalid task, duplicates included', () => {
    expect(() => batchLists({ appIds: [1, 1, 1], countries: ['US'] }, 2)).toThrow(
      expect.objectContaining({ code: 'invalid_task' }),
    );
  });
});

describe(feedBatch.name, () => {
  it('runs every item, at most `concurrency` at once', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];

    await feedBatch(
      numbers(20),
      async (n) => {
        most = Math.max(most, ++running);
        await tick();
        running--;
        done.push(n);
      },
      { concurrency: 3, signal: new AbortController().signal },
    );

    expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(most).toBe(3);
  });

  it('takes no further item after one fails the task, lets those under way finish, and rejects with its error', async () => {
    const started: number[] = [];
    const finished: number[] = [];

    const fed = feedBatch(
      numbers(100),
      async (n) => {
        started.push(n);
        if (n === 3) throw new Error('Connection is closed.');
        await tick();
        finished.push(n);
      },
      { concurrency: 2, signal: new AbortController().signal },
    );

    await expect(fed).rejects.toThrow('Connection is closed.');
    expect(started.length).toBeLessThan(10);
    expect(finished).toEqual(started.filter((n) => n !== 3));
  });

  it("stops when the run aborts and rejects with the run's reason", async () => {
    const run = new AbortController();
    const fed = feedBatch(
      numbers(1000),
      async (n) => {
        if (n === 5) run.abort(new Error('channel lost'));
        await tick();
      },
      { concurrency: 2, signal: run.signal },
    );

    await expect(fed).rejects.toThrow('channel lost');
  });
});
