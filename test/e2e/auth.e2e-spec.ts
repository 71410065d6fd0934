import { describe, expect, it } from 'vitest';

import { TEST_ADMIN } from '../support/admin-board';
import { OutputCapture } from '../support/output-capture';
import { TEST_CLIENT_SECRET } from '../support/auth.stand-in';
import { waitFor } from '../support/rmq';
import { range } from '../support/shapes';
import { useWorld } from '../support/vitest-world';

/** Steam requests leave 100 ms apart: a batch of n pairs lasts at least (n − 1) × 100 ms. */
const STEAM_RATE_LIMIT = 10;
const STEAM_RATE_WINDOW_MS = 1000;

/**
 * The backend's OAuth 2.0 token seen from outside, through the real worker:
 * renewal before expiry, a token revoked mid-batch, auth server failures, and
 * a scan of everything the worker wrote for secrets.
 */
describe('backend auth during batches', () => {
  /** Everything the worker wrote while this file ran, at LOG_LEVEL=trace. */
  const capture = new OutputCapture();
  const output = capture.output;
  const world = useWorld(
    'auth',
    () => ({
      STEAM_RATE_LIMIT: String(STEAM_RATE_LIMIT),
      STEAM_RATE_WINDOW_MS: String(STEAM_RATE_WINDOW_MS),
      LOG_LEVEL: 'trace',
      // The queue dashboard on too: its password is one more secret to look for.
      ...TEST_ADMIN,
    }),
    { capture },
  );
  const { resultOf } = world;

  const pairsOf = (appIds: number[], countries: string[]) =>
    appIds.flatMap((appId) => countries.map((country) => `${appId}/${country}`));

  /** PUTs the backend received for these pairs, refused ones included. */
  const putsFor = (pairs: string[]) =>
    world.standIns.backend.requests.filter(
      (request) =>
        request.method === 'PUT' && pairs.includes(request.url.pathname.replace(/^\/apps\/(\d+)\/countries\//, '$1/')),
    );

  const publishBatch = (taskId: string, appIds: number[], countries: string[]) =>
    world.publishTask('apps.fetch', { taskId, appIds, countries });

  it('renews an expiring token during a long batch, one token request at a time', async () => {
    const { auth, backend } = world.standIns;
    auth.expiresInS = 2;
    auth.delayMs = 200;
    auth.maxConcurrent = 0;
    const issuedBefore = auth.issued.length;
    const appIds = range(1001, 20);
    const countries = ['US', 'DE', 'GB'];
    try {
      publishBatch('renewal', appIds, countries);

      const result = await resultOf('renewal', 45_000);

      expect(result.body).toEqual({
        pattern: 'apps.fetch.done',
        data: { taskId: 'renewal', updated: appIds, failed: [] },
      });
      const pairs = pairsOf(appIds, countries);
      expect(pairs.filter((pair) => !backend.stored.has(pair))).toEqual([]);
      // 60 pairs 100 ms apart outlast a 2 s token at least twice; a token request
      // (200 ms) is still running when the next pushes need a token.
      expect(auth.issued.length - issuedBefore).toBeGreaterThanOrEqual(3);
      expect(auth.maxConcurrent).toBe(1);
      // Renewed before it expired: the backend never had to refuse a token.
      expect(putsFor(pairs)).toHaveLength(pairs.length);
    } finally {
      auth.expiresInS = 3600;
      auth.delayMs = 0;
    }
  });

  it('renews a token the auth server revoked mid-batch and repeats the refused push', async () => {
    const { auth, backend } = world.standIns;
    const appIds = [2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008];
    const countries = ['US', 'FR'];
    const pairs = pairsOf(appIds, countries);
    publishBatch('revoked', appIds, countries);
    await waitFor(() => pairs.filter((pair) => backend.stored.has(pair)).length >= 3, 20_000, 'the first pushes');
    const issuedBefore = auth.issued.length;

    auth.expireAll();
    const result = await resultOf('revoked');

    expect(result.body).toEqual({
      pattern: 'apps.fetch.done',
      data: { taskId: 'revoked', updated: appIds, failed: [] },
    });
    expect(pairs.filter((pair) => !backend.stored.has(pair))).toEqual([]);
    expect(auth.issued.length).toBeGreaterThan(issuedBefore);
    // At least one push was refused (401) with the revoked token and repeated with a new one.
    const puts = putsFor(pairs);
    expect(puts.length).toBeGreaterThan(pairs.length);
    const revoked = new Set(auth.issued.slice(0, issuedBefore).map((token) => `Bearer ${token}`));
    const renewed = new Set(auth.issued.slice(issuedBefore).map((token) => `Bearer ${token}`));
    const refusedPaths = puts
      .filter((put) => revoked.has(String(put.headers.authorization)))
      .map((put) => put.url.pathname);
    const repeated = puts.filter(
      (put) => renewed.has(String(put.headers.authorization)) && refusedPaths.includes(put.url.pathname),
    );
    expect(repeated.length).toBeGreaterThanOrEqual(1);
  });

  it('fails every pair with backend_error when the auth server answers 4xx, without retrying it', async () => {
    const { auth, backend } = world.standIns;
    auth.expireAll();
    auth.script = () => ({ status: 400, body: { error: 'invalid_client' } });
    const authBefore = auth.requests.length;
    const appIds = [3001, 3002, 3003];
    const countries = ['US', 'DE'];
    try {
      publishBatch('auth-400', appIds, countries);

      const result = await resultOf('auth-400');

      expect(result.body).toEqual({
        pattern: 'apps.fetch.done',
        data: {
          taskId: 'auth-400',
          updated: [],
          failed: appIds.map((appId) => ({ appId, countries: ['DE', 'US'], reason: 'backend_error' })),
        },
      });
      const pairs = pairsOf(appIds, countries);
      expect(pairs.filter((pair) => backend.stored.has(pair))).toEqual([]);
      const authRequests = auth.requests.length - authBefore;
      expect(authRequests).toBeGreaterThanOrEqual(1);
      // No retry storm: at most one token request per push attempt.
      expect(authRequests).toBeLessThanOrEqual(pairs.length);
    } finally {
      auth.script = undefined;
    }
  });

  it('completes a batch when the auth server answers 503 twice before it issues a token', async () => {
    const { auth, backend } = world.standIns;
    auth.expireAll();
    const authBefore = auth.requests.length;
    auth.script = () =>
      auth.requests.length - authBefore <= 2 ? { status: 503, body: { error: 'unavailable' } } : undefined;
    const appIds = [4001, 4002];
    const countries = ['US', 'DE'];
    try {
      publishBatch('auth-503', appIds, countries);

      const result = await resultOf('auth-503');

      expect(result.body).toEqual({
        pattern: 'apps.fetch.done',
        data: { taskId: 'auth-503', updated: appIds, failed: [] },
      });
      expect(pairsOf(appIds, countries).filter((pair) => !backend.stored.has(pair))).toEqual([]);
      // Two refusals and one success, shared by every push that waited for the token.
      expect(auth.requests.length - authBefore).toBe(3);
    } finally {
      auth.script = undefined;
    }
  });

  it('never writes the client secret, a token, the Steam API key or the admin password to its logs or its messages', async () => {
    const { auth, backend, steam } = world.standIns;
    // More paths that log: dropped and refused pushes, Steam failures, the app list (its URL holds the key).
    const attempts = new Map<string, number>();
    backend.script = ({ appId, country }) => {
      const attempt = (attempts.get(`${appId}/${country}`) ?? 0) + 1;
      attempts.set(`${appId}/${country}`, attempt);
      if (appId === 5002) return { status: 500, text: `<html>${TEST_CLIENT_SECRET}</html>` };
      if (appId === 5003) return { status: 422, body: { error: 'rejected' } };
      return attempt === 1 ? { status: 200, reset: true } : undefined;
    };
    steam.script = ({ appId, country }) =>
      appId === 5004 && country === 'DE' ? { status: 500, body: null } : undefined;
    steam.appList = [5001, 5002, 5003];
    try {
      publishBatch('mixed', [5001, 5002, 5003, 5004], ['US', 'DE']);
      world.publishTask('apps.list', { taskId: 'list' });
      expect((await resultOf('mixed')).body).toEqual({
        pattern: 'apps.fetch.done',
        data: {
          taskId: 'mixed',
          updated: [5001],
          failed: [
            { appId: 5002, countries: ['DE', 'US'], reason: 'backend_error' },
            { appId: 5003, countries: ['DE', 'US'], reason: 'backend_rejected' },
            { appId: 5004, countries: ['DE'], reason: 'steam_error' },
          ],
        },
      });
      expect((await resultOf('list')).body).toEqual({
        pattern: 'apps.list.done',
        data: { taskId: 'list', appIds: [5001, 5002, 5003], count: 3 },
      });
      steam.apiKey = 'a-key-the-worker-does-not-have';
      world.publishTask('apps.list', { taskId: 'list-refused' });
      expect((await resultOf('list-refused')).body).toMatchObject({
        pattern: 'task.failed',
        data: { taskId: 'list-refused', error: { code: 'not_configured' } },
      });
    } finally {
      backend.script = undefined;
      steam.script = undefined;
    }
    // Shutdown logs count too.
    await world.worker.close();

    const written = output.join('\n');
    const published = JSON.stringify([...world.results, ...world.deadLetters].map((message) => message.body));
    expect(output.length).toBeGreaterThan(0);
    expect(auth.issued.length).toBeGreaterThan(0);
    for (const secret of [TEST_CLIENT_SECRET, world.env.STEAM_API_KEY!, TEST_ADMIN.ADMIN_PASSWORD, ...auth.issued]) {
      expect(written.includes(secret), `the worker logged ${secret}`).toBe(false);
      expect(published.includes(secret), `the worker published ${secret}`).toBe(false);
    }
  });
});
