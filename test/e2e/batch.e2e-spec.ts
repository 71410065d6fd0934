import { describe, expect, it } from 'vitest';

import type { RecordedRequest } from '../support/http-stand-in';
import { resultOf as waitForResult } from '../support/shapes';
import { appDetailsEntry } from '../support/steam.stand-in';
import { taskFailed, useWorld } from '../support/vitest-world';

/**
 * The batch rule of docs/contract.md#results (every requested app in exactly one list,
 * failures with only their failing countries, reason precedence), the backend
 * retries of §4 and the shape of what is pushed, for `apps.fetch` and `app.fetch`.
 */

const STEAM_MAX_ATTEMPTS = 3;
const BACKEND_MAX_ATTEMPTS = 3;
const MAX_BATCH_APPS = 4;

describe('apps.fetch and app.fetch batches', () => {
  const fixture = useWorld('batch', () => ({
    STEAM_MAX_ATTEMPTS: String(STEAM_MAX_ATTEMPTS),
    BACKEND_MAX_ATTEMPTS: String(BACKEND_MAX_ATTEMPTS),
    MAX_BATCH_APPS: String(MAX_BATCH_APPS),
  }));

  const publish = fixture.publishTask;
  const resultOf = async (taskId: string) => (await fixture.resultOf(taskId)).body;
  const steamCalls = (appId: number, country: string) => fixture.standIns.steam.appDetailsFor(appId, country);

  const pushes = (appId: number, country?: string): RecordedRequest[] =>
    fixture.standIns.backend.requests.filter((request) => {
      const match = /^\/apps\/(\d+)\/countries\/([^/]+)$/.exec(request.url.pathname);
      return match !== null && Number(match[1]) === appId && (country === undefined || match[2] === country);
    });

  it('lists apps failing on Steam or rejected by the backend with only their failing countries, and the others as updated', async () => {
    // 1101 fails on Steam in FR every time; 1102 is rejected by the backend in DE.
    fixture.standIns.steam.script = ({ appId, country }) =>
      appId === 1101 && country === 'FR' ? { status: 500, text: '<html>Internal Server Error</html>' } : undefined;
    fixture.standIns.backend.script = ({ appId, country }) =>
      appId === 1102 && country === 'DE' ? { status: 422, body: { error: 'unprocessable' } } : undefined;

    publish('apps.fetch', {
      taskId: 't-rule',
      appIds: [1104, 1102, 1101, 1103],
      countries: ['DE', 'FR'],
    });

    expect(await resultOf('t-rule')).toEqual({
      pattern: 'apps.fetch.done',
      data: {
        taskId: 't-rule',
        updated: [1103, 1104],
        failed: [
          { appId: 1101, countries: ['FR'], reason: 'steam_error' },
          { appId: 1102, countries: ['DE'], reason: 'backend_rejected' },
        ],
      },
    });
    expect(steamCalls(1101, 'FR')).toHaveLength(STEAM_MAX_ATTEMPTS);
    expect(pushes(1101, 'FR')).toHaveLength(0);
    expect(pushes(1102, 'DE')).toHaveLength(1);
    for (const appId of [1101, 1102, 1103, 1104]) {
      expect(fixture.standIns.backend.stored.has(`${appId}/DE`)).toBe(appId !== 1102);
      expect(fixture.standIns.backend.stored.has(`${appId}/FR`)).toBe(appId !== 1101);
    }
  });

  it('reports backend_rejected before backend_error before steam_error when one app fails for several reasons', async () => {
    // DE: rejected by the backend, FR: backend always 503, GB: Steam always 500.
    const failing = {
      DE: [1201],
      FR: [1201, 1202],
      GB: [1201, 1202, 1203],
    } as Record<string, number[]>;
    fixture.standIns.steam.script = ({ appId, country }) =>
      country === 'GB' && failing.GB!.includes(appId) ? { status: 503, body: null } : undefined;
    fixture.standIns.backend.script = ({ appId, country }) => {
      if (country === 'DE' && failing.DE!.includes(appId)) return { status: 409, body: { error: 'conflict' } };
      if (country === 'FR' && failing.FR!.includes(appId)) return { status: 503, body: { error: 'unavailable' } };
      return undefined;
    };

    publish('apps.fetch', {
      taskId: 't-precedence',
      appIds: [1204, 1203, 1202, 1201],
      countries: ['GB', 'FR', 'DE'],
    });

    expect(await resultOf('t-precedence')).toEqual({
      pattern: 'apps.fetch.done',
      data: {
        taskId: 't-precedence',
        updated: [1204],
        failed: [
          {
            appId: 1201,
            countries: ['DE', 'FR', 'GB'],
            reason: 'backend_rejected',
          },
          { appId: 1202, countries: ['FR', 'GB'], reason: 'backend_error' },
          { appId: 1203, countries: ['GB'], reason: 'steam_error' },
        ],
      },
    });
  });

  it('retries a push the backend answers 503 twice, then counts the app as updated', async () => {
    const answered = new Map<string, number>();
    fixture.standIns.steam.script = undefined;
    fixture.standIns.backend.script = ({ appId, country }) => {
      if (appId !== 1301) return undefined;
      const attempt = (answered.get(country) ?? 0) + 1;
      answered.set(country, attempt);
      return attempt <= 2 ? { status: 503, body: { error: 'unavailable' } } : undefined;
    };

    publish('apps.fetch', {
      taskId: 't-backend-recovers',
      appIds: [1301, 1302],
      countries: ['DE', 'PL'],
    });

    expect(await resultOf('t-backend-recovers')).toEqual({
      pattern: 'apps.fetch.done',
      data: { taskId: 't-backend-recovers', updated: [1301, 1302], failed: [] },
    });
    expect(pushes(1301, 'DE')).toHaveLength(3);
    expect(pushes(1301, 'PL')).toHaveLength(3);
    expect(fixture.standIns.backend.stored.get('1301/PL')).toMatchObject({
      appId: 1301,
      country: 'PL',
      available: true,
    });
  });

  it('fails an app with backend_error, never as updated, when the backend stays down past BACKEND_MAX_ATTEMPTS', async () => {
    fixture.standIns.steam.script = undefined;
    fixture.standIns.backend.script = ({ appId }) =>
      appId === 1401 ? { status: 503, body: { error: 'unavailable' } } : undefined;

    publish('apps.fetch', {
      taskId: 't-backend-down',
      appIds: [1402, 1401],
      countries: ['US', 'JP'],
    });

    expect(await resultOf('t-backend-down')).toEqual({
      pattern: 'apps.fetch.done',
      data: {
        taskId: 't-backend-down',
        updated: [1402],
        failed: [{ appId: 1401, countries: ['JP', 'US'], reason: 'backend_error' }],
      },
    });
    expect(pushes(1401, 'US')).toHaveLength(BACKEND_MAX_ATTEMPTS);
    expect(pushes(1401, 'JP')).toHaveLength(BACKEND_MAX_ATTEMPTS);
  });

  it('answers app.fetch with the app in failed when the backend rejects it', async () => {
    fixture.standIns.steam.script = undefined;
    fixture.standIns.backend.script = ({ appId }) =>
      appId === 1501 ? { status: 400, body: { error: 'bad record' } } : undefined;

    publish('app.fetch', {
      taskId: 't-one-rejected',
      appId: 1501,
      country: 'br',
    });

    expect(await resultOf('t-one-rejected')).toEqual({
      pattern: 'app.fetch.done',
      data: {
        taskId: 't-one-rejected',
        updated: [],
        failed: [{ appId: 1501, countries: ['BR'], reason: 'backend_rejected' }],
      },
    });
    expect(pushes(1501)).toHaveLength(1);
  });

  it('removes duplicate apps and countries and upper-cases countries before fetching and pushing', async () => {
    fixture.standIns.steam.script = undefined;
    fixture.standIns.backend.script = undefined;

    // Four appIds as sent: exactly MAX_BATCH_APPS, two once duplicates are removed.
    publish('apps.fetch', {
      taskId: 't-dedup',
      appIds: [1602, 1601, 1602, 1601],
      countries: ['de', 'DE', 'fr', 'De'],
    });

    expect(await resultOf('t-dedup')).toEqual({
      pattern: 'apps.fetch.done',
      data: { taskId: 't-dedup', updated: [1601, 1602], failed: [] },
    });
    for (const appId of [1601, 1602]) {
      expect(steamCalls(appId, 'DE')).toHaveLength(1);
      expect(steamCalls(appId, 'FR')).toHaveLength(1);
      expect(
        pushes(appId)
          .map((request) => `${request.method} ${request.url.pathname}`)
          .sort(),
      ).toEqual([`PUT /apps/${appId}/countries/DE`, `PUT /apps/${appId}/countries/FR`]);
    }
    const fetchedCountries = fixture.standIns.steam.appDetailsRequests
      .filter((request) => ['1601', '1602'].includes(request.url.searchParams.get('appids')!))
      .map((request) => request.url.searchParams.get('cc'));
    expect(fetchedCountries.sort()).toEqual(['DE', 'DE', 'FR', 'FR']);
  });

  it("pushes {appId, country, available, details, fetchedAt} with Steam's data object as received", async () => {
    const data = {
      ...appDetailsEntry(1701, 'CZ').data,
      name: 'Ünïcödé — «app» 日本語',
      nested: {
        empty: [],
        nothing: null,
        deep: [{ a: 1.5, b: [true, false] }],
      },
    };
    fixture.standIns.steam.script = ({ appId }) =>
      appId === 1701 ? { status: 200, body: { 1701: { success: true, data } } } : undefined;
    fixture.standIns.backend.script = undefined;
    const before = Date.now();

    publish('apps.fetch', {
      taskId: 't-body',
      appIds: [1701, 900001702],
      countries: ['CZ'],
    });

    expect(await resultOf('t-body')).toEqual({
      pattern: 'apps.fetch.done',
      data: { taskId: 't-body', updated: [1701, 900001702], failed: [] },
    });
    const [available] = pushes(1701, 'CZ');
    const [unavailable] = pushes(900001702, 'CZ');
    expect(available!.method).toBe('PUT');
    expect(available!.headers['content-type']).toMatch(/^application\/json/);
    const availableBody = JSON.parse(available!.body) as Record<string, unknown>;
    const unavailableBody = JSON.parse(unavailable!.body) as Record<string, unknown>;
    expect(availableBody).toEqual({
      appId: 1701,
      country: 'CZ',
      available: true,
      details: data,
      fetchedAt: expect.any(String),
    });
    expect(unavailableBody).toEqual({
      appId: 900001702,
      country: 'CZ',
      available: false,
      details: null,
      fetchedAt: expect.any(String),
    });
    for (const body of [availableBody, unavailableBody]) {
      const fetchedAt = body.fetchedAt as string;
      expect(fetchedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
      expect(Date.parse(fetchedAt)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(fetchedAt)).toBeLessThanOrEqual(Date.now() + 1000);
    }
  });

  it('dead-letters a batch with more than MAX_BATCH_APPS appIds as sent, with task.failed invalid_task', async () => {
    fixture.standIns.steam.script = undefined;
    fixture.standIns.backend.script = undefined;
    // Five as sent, four once duplicates are removed: the limit counts them as sent.
    const envelope = {
      pattern: 'apps.fetch',
      data: {
        taskId: 't-too-many',
        appIds: [1801, 1802, 1803, 1804, 1804],
        countries: ['DE'],
      },
    };
    fixture.publish(envelope);

    expect(await resultOf('t-too-many')).toEqual(taskFailed('t-too-many', 'apps.fetch'));
    const deadLetter = await waitForResult(fixture.deadLetters, 't-too-many', 10_000, 'the dead-lettered batch');
    expect(deadLetter.body).toEqual(envelope);
    const touched = fixture.standIns.steam.appDetailsRequests.filter((request) =>
      ['1801', '1802', '1803', '1804'].includes(request.url.searchParams.get('appids')!),
    );
    expect(touched).toHaveLength(0);
    expect(fixture.resultsFor('t-too-many')).toHaveLength(1);
  });
});
