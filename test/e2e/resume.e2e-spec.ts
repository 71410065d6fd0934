import { describe, expect, it } from 'vitest';

import { waitFor } from '../support/rmq';
import { bodyOf } from '../support/shapes';
import { useWorld } from '../support/vitest-world';

/** A task delivered again fetches and pushes only what the backend has not accepted yet. */
describe('resuming a task from its progress in Redis', () => {
  const fixture = useWorld('resume', () => ({ BACKEND_MAX_ATTEMPTS: '1' }));

  const results = () => fixture.results.map(bodyOf);
  const steamPairs = (since: number) =>
    fixture.standIns.steam.appDetailsRequests
      .slice(since)
      .map((r) => `${r.url.searchParams.get('appids')}/${r.url.searchParams.get('cc')}`)
      .sort();

  it('redoes only the pairs not accepted before, and reports every app', async () => {
    const task = { pattern: 'apps.fetch', data: { taskId: 'resume-1', appIds: [3, 1, 2], countries: ['US', 'DE'] } };
    fixture.standIns.backend.script = ({ appId, country }) =>
      appId === 2 && country === 'DE' ? { status: 503 } : undefined;
    fixture.publish(task);
    await waitFor(() => results().length === 1, 20_000, 'the first result');
    expect(results()[0]!.data).toMatchObject({ updated: [1, 3], failed: [{ appId: 2, countries: ['DE'] }] });

    fixture.standIns.backend.script = undefined;
    const before = fixture.standIns.steam.appDetailsRequests.length;
    fixture.publish(task);
    await waitFor(() => results().length === 2, 20_000, 'the second result');
    expect(steamPairs(before)).toEqual(['2/DE']);
    expect(results()[1]!.data).toEqual({ taskId: 'resume-1', updated: [1, 2, 3], failed: [] });
  });

  it('starts over for a task without a taskId or message id: it cannot be told from another run', async () => {
    const task = { pattern: 'app.fetch', data: { appId: 7, country: 'US' } };
    fixture.publish(task);
    fixture.publish(task);
    await waitFor(() => results().length === 4, 20_000, 'two results');
    expect(steamPairs(0).filter((pair) => pair === '7/US')).toHaveLength(2);
  });

  it('resumes by the message id when the task has no taskId', async () => {
    const task = { pattern: 'app.fetch', data: { appId: 8, country: 'US' } };
    fixture.publish(task, { messageId: 'message-8' });
    await waitFor(() => results().length === 5, 20_000, 'the first result');
    fixture.publish(task, { messageId: 'message-8' });
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
