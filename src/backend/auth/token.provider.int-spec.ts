import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { AuthStandIn, TEST_CLIENT_ID, TEST_CLIENT_SECRET } from '../../../test/support/auth.stand-in';
import type { Reply } from '../../../test/support/http-stand-in';
import type { RetryPolicy, WorkerConfig } from '../../config/worker-config';
import { WorkerMetrics } from '../../metrics/worker.metrics';
import { BackendError } from '../backend.errors';
import { TokenProvider } from './token.provider';

const RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 200, jitter: 0.2 };
/** A valid token answer padded to 400 bytes, a byte every 50 ms: never idle, 20 s to arrive. */
const trickling = (): Reply => ({
  status: 200,
  body: { access_token: 'a-token-that-never-arrives', token_type: 'Bearer', expires_in: 3600, pad: '.'.repeat(330) },
  trickle: 50,
});

function workerConfig(auth: { url: string; clientSecret?: string }, backend: Partial<WorkerConfig['backend']> = {}) {
  return {
    backend: { url: 'http://127.0.0.1:9', timeoutMs: 2000, concurrency: 8, retry: RETRY, ...backend },
    auth: { url: auth.url, clientId: TEST_CLIENT_ID, clientSecret: auth.clientSecret ?? TEST_CLIENT_SECRET },
  } as WorkerConfig;
}

/** A URL on 127.0.0.1 where nothing listens. */
async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/oauth/token`;
}

/** Everything an error would show wherever it ends up: message, stack, causes, own fields. */
const everythingIn = (error: unknown) => `${String(error)}\n${inspect(error, { depth: 10, showHidden: true })}`;

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (error: unknown) => error,
  );
}

/** A registry of its own: what these specs check is not the metrics. */
const metrics = new WorkerMetrics();

describe(TokenProvider.name, () => {
  let auth: AuthStandIn;
  const tokenUrl = () => `${auth.url}/oauth/token`;

  beforeEach(async () => {
    auth = await new AuthStandIn().start();
  });

  afterEach(async () => {
    vi.useRealTimers();
    await auth.stop();
  });

  it('asks AUTH_URL for a client-credentials grant with a form-encoded POST', async () => {
    const tokens = new TokenProvider(workerConfig({ url: tokenUrl() }), metrics);

    expect(await tokens.token()).toBe(auth.issued[0]);

    expect(auth.requests).toHaveLength(1);
    const [request] = auth.requests;
    expect(request!.method).toBe('POST');
    expect(request!.url.pathname).toBe('/oauth/token');
    expect(request!.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(Object.fromEntries(new URLSearchParams(request!.body))).toEqual({
      grant_type: 'client_credentials',
      client_id: TEST_CLIENT_ID,
      client_secret: TEST_CLIENT_SECRET,
    });
  });

  it('reuses the cached token while it is fresh', async () => {
    const tokens = new TokenProvider(workerConfig({ url: tokenUrl() }), metrics);

    const first = await tokens.token();
    const later = [await tokens.token(), await tokens.token(), await tokens.token()];

    expect(later).toEqual([first, first, first]);
    expect(auth.requests).toHaveLength(1);
  });

  it('fetches the token once for 20 callers that need it at the same moment', async () => {
    auth.delayMs = 100;
    const tokens = new TokenProvider(workerConfig({ url: tokenUrl() }), metrics);

    const received = await Promise.all(Array.from({ length: 20 }, () => tokens.token()));

    expect(auth.requests).toHaveLength(1);
    expect(auth.issued).toHaveLength(1);
    expect(new Set(received)).toEqual(new Set([auth.issued[0]]));
  });

  it.each([
    { expiresInS: 100, marginS: 10 },
    { expiresInS: 3600, marginS: 30 },
  ])(
    'renews a token that lives $expiresInS s once less than $marginS s of it is left',
    async ({ expiresInS, marginS }) => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const start = new Date('2026-03-01T12:00:00Z').getTime();
      vi.setSystemTime(start);
      auth.expiresInS = expiresInS;
      const tokens = new TokenProvider(workerConfig({ url: tokenUrl() }), metrics);
      const first = await tokens.token();

      vi.setSystemTime(start + (expiresInS - marginS - 1) * 1000);
      await expect(tokens.token()).resolves.toBe(first);
      expect(auth.requests).toHaveLength(1);

      vi.setSystemTime(start + (expiresInS - marginS + 1) * 1000);
      const renewed = await tokens.token();
      expect(auth.requests).toHaveLength(2);
      expect(renewed).toBe(auth.issued[1]);
      expect(renewed).not.toBe(first);
    },
  );

  it('renews on demand: drops the cached token and fetches a new one, once for all who ask meanwhile', async () => {
    const tokens = new TokenProvider(workerConfig({ url: tokenUrl() }), metrics);
    const first = await tokens.token();
    auth.delayMs = 100;

    const received = await Promise.all([tokens.renew(), tokens.renew(), tokens.token()]);

    expect(auth.requests).toHaveLength(2);
    expect(received).toEqual([auth.issued[1], auth.issued[1], auth.issued[1]]);
    expect(received[0]).not.toBe(first);
    await expect(tokens.token()).resolves.toBe(auth.issued[1]);
    expect(auth.requests).toHaveLength(2);
  });

  it('rejects a renewal the auth server refuses with a BackendError of origin auth', async () => {
    const tokens = new TokenProvider(workerConfig({ url: tokenUrl() }), metrics);
    await tokens.token();
    auth.script = () => ({ status: 400, body: { error: 'invalid_client' } });

    const error = await rejectionOf(tokens.renew());

    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ reason: 'backend_error', origin: 'auth', transient: false });
    expect(auth.requests).toHaveLength(2);
  });

  it('forgets an invalidated token and fetches a new one', async () => {
    const tokens = new TokenProvider(workerConfig({ url: tokenUrl() }), metrics);
    const first = await tokens.token();

    tokens.invalidate(first);

    expect(await tokens.token()).toBe(auth.issued[1]);
    expect(auth.requests).toHaveLength(2);
  });

  it('keeps a newer token when an older one is invalidated', async () => {
    const tokens = new TokenProvider(workerConfig({ url: tokenUrl() }), metrics);
    const first = await tokens.token();
    tokens.invalidate(first);
    const second = await tokens.token();

    tokens.invalidate(first);
    tokens.invalidate('a-token-never-issued');

    await expect(tokens.token()).resolves.toBe(second);
    expect(auth.requests).toHaveLength(2);
  });

  it.each([500, 503])('retries an auth server %i with backoff, then returns the token', async (status) => {
    const base = 40;
    auth.script = () => (auth.requests.length <= 2 ? { status, body: { error: 'unavailable' } } : undefined);
    const tokens = new TokenProvider(
      workerConfig({ url: tokenUrl() }, { retry: { ...RETRY, baseDelayMs: base } }),
      metrics,
    );

    expect(await tokens.token()).toBe(auth.issued[0]);

    expect(auth.requests).toHaveLength(3);
    const [first, second, third] = auth.requests.map((request) => request.at);
    // Backoff before attempt n+1 is base × 2^(n−1), ±20 %: at least 0.8 of it (minus timer rounding).
    expect(second! - first!).toBeGreaterThanOrEqual(0.8 * base - 2);
    expect(third! - second!).toBeGreaterThanOrEqual(0.8 * 2 * base - 2);
  });

  it('retries an auth server that does not answer within BACKEND_TIMEOUT_MS', async () => {
    auth.script = () => (auth.requests.length === 1 ? { status: 503, delayMs: 1500 } : undefined);
    const tokens = new TokenProvider(workerConfig({ url: tokenUrl() }, { timeoutMs: 200 }), metrics);

    expect(await tokens.token()).toBe(auth.issued[0]);
    expect(auth.requests).toHaveLength(2);
  });

  it('retries a token request whose answer trickles past BACKEND_TIMEOUT_MS', async () => {
    const timeoutMs = 300;
    auth.script = () => (auth.requests.length === 1 ? trickling() : undefined);
    const tokens = new TokenProvider(workerConfig({ url: tokenUrl() }, { timeoutMs }), metrics);

    expect(await tokens.token()).toBe(auth.issued[0]);

    expect(auth.requests).toHaveLength(2);
    const [first, second] = auth.requests.map((request) => request.at);
    expect(second! - first!).toBeGreaterThanOrEqual(timeoutMs - 5);
    expect(second! - first!).toBeLessThan(timeoutMs + 300);
  });

  it('bounds each token request whose answer trickles by BACKEND_TIMEOUT_MS, then gives up with backend_error', async () => {
    const timeoutMs = 300;
    auth.script = trickling;
    const tokens = new TokenProvider(workerConfig({ url: tokenUrl() }, { timeoutMs }), metrics);
    const started = performance.now();

    const error = await rejectionOf(tokens.token());

    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(BackendError);
    // Given up after its own retries: not transient, so the push does not retry it again.
    expect(error).toMatchObject({ reason: 'backend_error', origin: 'auth', transient: false });
    expect((error as BackendError).message).toMatch(/timed out/);
    expect(auth.requests).toHaveLength(RETRY.maxAttempts);
    // Three bounded requests and two backoffs (10 and 20 ms, +20 %), not the answers' 20 s.
    expect(elapsed).toBeLessThan(RETRY.maxAttempts * timeoutMs + 2 * RETRY.maxDelayMs + 400);
  });

  it('gives up with backend_error after BACKEND_MAX_ATTEMPTS auth server failures', async () => {
    auth.script = () => ({ status: 502, body: { error: 'bad gateway' } });
    const tokens = new TokenProvider(workerConfig({ url: tokenUrl() }), metrics);

    const error = await rejectionOf(tokens.token());

    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ reason: 'backend_error', origin: 'auth' });
    expect(auth.requests).toHaveLength(RETRY.maxAttempts);
  });

  it('gives up with backend_error when the auth server refuses connections', async () => {
    const tokens = new TokenProvider(workerConfig({ url: await refusingUrl() }), metrics);

    const error = await rejectionOf(tokens.token());

    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ reason: 'backend_error', origin: 'auth' });
  });

  it.each<{ answer: string; config: { clientSecret?: string }; script?: () => Reply }>([
    { answer: '400', config: {}, script: () => ({ status: 400, body: { error: 'invalid_request' } }) },
    { answer: '401 to a wrong client secret', config: { clientSecret: 'not-the-secret' } },
  ])('does not retry an auth server $answer and rejects with backend_error', async ({ config, script }) => {
    auth.script = script;
    const tokens = new TokenProvider(workerConfig({ url: tokenUrl(), ...config }), metrics);

    const error = await rejectionOf(tokens.token());

    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ reason: 'backend_error', origin: 'auth' });
    expect(auth.requests).toHaveLength(1);
  });

  it('asks the auth server again on the next call after a failure', async () => {
    auth.script = () => (auth.requests.length === 1 ? { status: 400, body: { error: 'invalid_request' } } : undefined);
    const tokens = new TokenProvider(workerConfig({ url: tokenUrl() }), metrics);

    await expect(tokens.token()).rejects.toBeInstanceOf(BackendError);
    expect(await tokens.token()).toBe(auth.issued[0]);
    expect(auth.requests).toHaveLength(2);
  });

  it.each<{ failure: string; url?: () => Promise<string>; timeoutMs?: number; script?: () => Reply }>([
    {
      failure: 'a 400 whose body echoes the secret',
      script: () => ({
        status: 400,
        body: { error: 'invalid_request', error_description: `bad ${TEST_CLIENT_SECRET}` },
      }),
    },
    {
      failure: 'a 401 whose body echoes the secret',
      script: () => ({ status: 401, text: `<html>client_secret=${TEST_CLIENT_SECRET} is wrong</html>` }),
    },
    {
      failure: 'repeated 503s whose body echoes the secret',
      script: () => ({ status: 503, body: { error: 'down', client_secret: TEST_CLIENT_SECRET } }),
    },
    {
      failure: 'a 200 without an access_token',
      script: () => ({ status: 200, body: { client_secret: TEST_CLIENT_SECRET } }),
    },
    { failure: 'timeouts', script: () => ({ status: 503, delayMs: 1500 }), timeoutMs: 150 },
    { failure: 'answers that trickle', script: trickling, timeoutMs: 150 },
    { failure: 'dropped connections', script: () => ({ status: 200, reset: true }) },
    { failure: 'refused connections', url: refusingUrl },
  ])('keeps the client secret out of its error after $failure', async ({ url, timeoutMs, script }) => {
    auth.script = script;
    const config = workerConfig({ url: url ? await url() : tokenUrl() }, timeoutMs ? { timeoutMs } : {});
    const tokens = new TokenProvider(config, metrics);

    const error = await rejectionOf(tokens.token());

    expect(error).toBeInstanceOf(BackendError);
    expect(everythingIn(error)).not.toContain(TEST_CLIENT_SECRET);
  });

  it('keeps the tokens it was given out of a later error', async () => {
    const tokens = new TokenProvider(workerConfig({ url: tokenUrl() }), metrics);
    const first = await tokens.token();
    tokens.invalidate(first);
    auth.script = () => ({ status: 503, body: { error: 'down', previous: first } });

    const error = await rejectionOf(tokens.token());

    expect(everythingIn(error)).not.toContain(first);
    expect(everythingIn(error)).not.toContain(TEST_CLIENT_SECRET);
  });
});
