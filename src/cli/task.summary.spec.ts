import { describe, expect, it } from 'vitest';

import { summarise } from './task.summary';

describe(summarise.name, () => {
  it('counts updated and failed apps of a batch and lists each failed one with its countries and reason', () => {
    const lines = summarise('apps.fetch', 't1', {
      response: {
        taskId: 't1',
        updated: [10, 20],
        failed: [{ appId: 30, countries: ['DE', 'US'], reason: 'backend_error' }],
      },
    });
    expect(lines).toEqual([
      'task     t1 (apps.fetch)',
      'updated  2 app(s)',
      'failed   1 app(s)',
      '',
      'APP  COUNTRIES  REASON',
      '30   DE,US      backend_error',
    ]);
  });

  it('counts the apps of apps.list and shows the window of apps.changed', () => {
    expect(summarise('apps.list', 'l', { response: { taskId: 'l', appIds: [1, 2], count: 2 } })).toContain('apps  2');
    const changed = summarise('apps.changed', 'c', {
      response: { taskId: 'c', since: 1795824000, until: 1795827600, apps: [], count: 0 },
    });
    expect(changed).toContain('changed  0 app(s)');
    expect(changed.join('\n')).toContain('2026-11-28T00:00:00Z .. 2026-11-28T01:00:00Z');
  });

  it('shows the code and message of a task that failed as a whole', () => {
    expect(
      summarise('apps.list', 'l', { err: { code: 'not_configured', message: 'STEAM_API_KEY is not set' } }),
    ).toEqual(['task    l (apps.list)', 'failed  not_configured: STEAM_API_KEY is not set']);
  });
});
