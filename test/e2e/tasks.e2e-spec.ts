import { describe, expect, it } from 'vitest';

import { useWorld } from '../support/vitest-world';

describe('steam-worker tasks', () => {
  const fixture = useWorld('tasks');
  const { resultOf } = fixture;

  it('fetches one app in one country and pushes it to the backend', async () => {
    fixture.publish({
      pattern: 'app.fetch',
      data: { taskId: 't-one', appId: 621, country: 'de' },
    });
    const result = await resultOf('t-one');
    expect(result.body).toEqual({ pattern: 'app.fetch.done', data: { taskId: 't-one', updated: [621], failed: [] } });
    const record = fixture.standIns.backend.stored.get('621/DE');
    expect(record).toMatchObject({ appId: 621, country: 'DE', available: true });
    expect((record!.details as { price_overview: { currency: string } }).price_overview.currency).toBe('EUR');
  });

  it('fetches many apps in many countries', async () => {
    fixture.publish({
      pattern: 'apps.fetch',
      data: { taskId: 't-many', appIds: [30, 10, 20, 10, 900000001], countries: ['us', 'GB', 'us'] },
    });
    const result = await resultOf('t-many');
    expect(result.body).toEqual({
      pattern: 'apps.fetch.done',
      data: { taskId: 't-many', updated: [10, 20, 30, 900000001], failed: [] },
    });
    expect(fixture.standIns.backend.stored.get('900000001/GB')).toMatchObject({ available: false, details: null });
    expect(fixture.standIns.backend.stored.get('20/US')).toMatchObject({ available: true });
  });

  it('lists every app id through the paged store API', async () => {
    fixture.standIns.steam.appList = [50, 10, 40, 20, 30];
    fixture.standIns.steam.pageSize = 2;
    fixture.publish({ pattern: 'apps.list', data: { taskId: 't-list' } });
    const result = await resultOf('t-list');
    expect(result.body).toEqual({
      pattern: 'apps.list.done',
      data: { taskId: 't-list', appIds: [10, 20, 30, 40, 50], count: 5 },
    });
  });
});
