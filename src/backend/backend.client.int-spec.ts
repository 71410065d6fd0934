import { HttpService } from '@nestjs/axios';
import axios from 'axios';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { AuthStandIn, TEST_CLIENT_ID, TEST_CLIENT_SECRET } from '../../test/support/auth.stand-in';
import { BackendStandIn } from '../../test/support/backend.stand-in';
import { maxInSlidingWindow, RecordedRequest, Reply } from '../../test/support/http-stand-in';
import type { RetryPolicy, WorkerConfig } from '../config/worker-config';
import { WorkerMetrics } from '../metrics/worker.metrics';
import { AuthInterceptor } from './auth/auth.interceptor';
import { TokenProvider } from './auth/token.provider';
import { AppCountryPriceRecord, AppCountryRecord, BackendClient } from './backend.client';
import { BackendError } from './backend.errors';

const MAX_ATTEMPTS = 3;
const RETRY: RetryPolicy = { maxAttempts: MAX_ATTEMPTS, baseDelayMs: 10, maxDelayMs: 100, jitter: 0.2 };
/** Backoff and jitter waits of one push at most, ever: every wait is at most maxDelayMs. */
const MOST_BACKOFF_MS = (MAX_ATTEMPTS - 1) * RETRY.maxDelayMs;
/** A byte every 50 ms, a 400-byte body: an answer that never goes idle and takes 20 s to arrive. */
const TRICKLE_MS = 50;
const trickling = (status = 200): Reply => ({
  status,
  body: { stored: true, padding: '.'.repeat(400) },
  trickle: TRICKLE_MS,
});

/** A base URL on 127.0.0.1 where nothing listens. */
async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function record(appId: number, country: string): AppCountryRecord {
  return {
    appId,
    country,
    available: true,
    details: { steam_appid: appId, name: `App ${appId}`, price_overview: { currency: 'EUR', final: 999 } },
    fetchedAt: '2026-03-01T12:00:00.000Z',
  };
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

describe(BackendClient.name, () => {
  let auth: AuthStandIn;
  let backend: BackendStandIn;

  beforeEach(async () => {
    auth = await new AuthStandIn().start();
    backend = await new BackendStandIn(auth).start();
  });

  afterEach(async () => {
    await Promise.all([auth.stop(), backend.stop()]);
  });

  /** The client as BackendModule wires it: its own axios instance with the auth interceptor. */
  function makeClient(options: { backendUrl?: string; timeoutMs?: number; concurrency?: number } = {}) {
    const config = {
      backend: {
        url: options.backendUrl ?? backend.url,
        timeoutMs: options.timeoutMs ?? 2000,
        concurrency: options.concurrency ?? 8,
        retry: RETRY,
      },
      auth: { url: `${auth.url}/oauth/token`, clientId: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET },
    } as WorkerConfig;
    const instance = axios.create({ timeout: config.backend.timeoutMs, proxy: false });
    let attempts = 0;
    instance.interceptors.request.use((request) => {
      attempts++;
      return request;
    });
    // axios' CommonJS and ESM typings differ; @nestjs/axios is typed against the ESM one.
    const http = new HttpService(instance as unknown as HttpService['axiosRef']);
    const tokens = new TokenProvider(config, metrics);
    new AuthInterceptor(http, tokens, config).onModuleInit();
    return { client: new BackendClient(http, config, tokens, metrics), attempts: () => attempts };
  }

  const puts = () => backend.requests.filter((request) => request.method === 'PUT');
  const bearerOf = (request: RecordedRequest) => request.headers.authorization;

  it('puts the record as JSON to /apps/<id>/countries/<CC> with the bearer token', async () => {
    const { client } = makeClient();
    const pushed = record(620, 'DE');

    await client.push(pushed);

    expect(puts()).toHaveLength(1);
    const [request] = puts();
    expect(request!.url.pathname).toBe('/apps/620/countries/DE');
    expect(request!.headers['content-type']).toMatch(/^application\/json/);
    expect(bearerOf(request!)).toBe(`Bearer ${auth.issued[0]}`);
    expect(JSON.parse(request!.body)).toEqual(pushed);
    expect(backend.stored.get('620/DE')).toEqual(pushed);
  });

  it('puts a price to /apps/<id>/countries/<CC>/price, and the backend keeps it beside the details', async () => {
    const { client } = makeClient();
    const price: AppCountryPriceRecord = {
      appId: 620,
      country: 'DE',
      available: true,
      isFree: false,
      price: {
        currency: 'EUR',
        initial: 975,
        final: 975,
        discountPercent: 0,
        initialFormatted: '',
        finalFormatted: '9,75€',
      },
      source: 'appdetails',
      fetchedAt: '2026-03-01T12:00:00.000Z',
    };

    await client.pushPrice(price);

    expect(puts().map((request) => request.url.pathname)).toEqual(['/apps/620/countries/DE/price']);
    expect(bearerOf(puts()[0]!)).toBe(`Bearer ${auth.issued[0]}`);
    expect(backend.storedPrices.get('620/DE')).toEqual(price);
    expect(backend.stored.has('620/DE')).toBe(false);
  });

  it('shares one token between all its pushes', async () => {
    const { client } = makeClient();

    await Promise.all([client.push(record(1, 'US')), client.push(record(2, 'US'))]);
    await client.push(record(3, 'US'));

    expect(auth.requests).toHaveLength(1);
    expect(new Set(puts().map(bearerOf))).toEqual(new Set([`Bearer ${auth.issued[0]}`]));
  });

  it('answers a 401 by renewing the token and repeating the push once', async () => {
    const { client } = makeClient();
    await client.push(record(10, 'US'));
    auth.expireAll();
    const pushed = record(20, 'GB');

    await client.push(pushed);

    const forSecond = puts().filter((request) => request.url.pathname === '/apps/20/countries/GB');
    expect(forSecond.map(bearerOf)).toEqual([`Bearer ${auth.issued[0]}`, `Bearer ${auth.issued[1]}`]);
    expect(JSON.parse(forSecond[1]!.body)).toEqual(pushed);
    expect(auth.issued).toHaveLength(2);
    expect(backend.stored.get('20/GB')).toEqual(pushed);
  });

  it('fails with backend_error after a second 401, with exactly two PUTs', async () => {
    backend.script = () => ({ status: 401, body: { error: 'invalid_token' } });
    const { client } = makeClient();

    const error = await rejectionOf(client.push(record(30, 'US')));

    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ reason: 'backend_error', origin: 'backend' });
    expect(puts()).toHaveLength(2);
    expect(puts().map(bearerOf)).toEqual([`Bearer ${auth.issued[0]}`, `Bearer ${auth.issued[1]}`]);
  });

  it.each([500, 502, 503, 504, 408, 429])(
    'tries a push answered %i at most BACKEND_MAX_ATTEMPTS times, then fails with backend_error',
    async (status) => {
      backend.script = () => ({ status, body: { error: 'try later' } });
      const { client } = makeClient();

      const error = await rejectionOf(client.push(record(40, 'US')));

      expect(error).toBeInstanceOf(BackendError);
      expect(error).toMatchObject({ reason: 'backend_error', origin: 'backend' });
      expect(puts()).toHaveLength(MAX_ATTEMPTS);
    },
  );

  it('succeeds once a transient failure passes', async () => {
    backend.script = () => (puts().length <= 2 ? { status: 503, body: null } : undefined);
    const { client } = makeClient();

    await client.push(record(41, 'US'));

    expect(puts()).toHaveLength(3);
    expect(backend.stored.get('41/US')).toEqual(record(41, 'US'));
  });

  it('tries a push that times out at most BACKEND_MAX_ATTEMPTS times', async () => {
    backend.script = () => ({ status: 200, body: { stored: true }, delayMs: 1500 });
    const { client } = makeClient({ timeoutMs: 150 });

    const error = await rejectionOf(client.push(record(42, 'US')));

    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ reason: 'backend_error', origin: 'backend' });
    expect(puts()).toHaveLength(MAX_ATTEMPTS);
  });

  it('bounds each attempt of a push whose answer trickles by BACKEND_TIMEOUT_MS, at most BACKEND_MAX_ATTEMPTS of them', async () => {
    const timeoutMs = 300;
    backend.script = () => trickling();
    const { client } = makeClient({ timeoutMs });
    const started = performance.now();

    const error = await rejectionOf(client.push(record(46, 'US')));

    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ reason: 'backend_error', origin: 'backend', transient: true });
    expect((error as BackendError).message).toMatch(/timed out/);
    expect(puts()).toHaveLength(MAX_ATTEMPTS);
    // Every attempt ran to its bound, and no further: the answers' 20 s never counted.
    const [first, second, third] = puts().map((request) => request.at);
    expect(second! - first!).toBeGreaterThanOrEqual(timeoutMs - 5);
    expect(third! - second!).toBeGreaterThanOrEqual(timeoutMs - 5);
    expect(elapsed).toBeLessThan(MAX_ATTEMPTS * timeoutMs + MOST_BACKOFF_MS + 400);
  });

  it('bounds the PUT repeated after a 401 as well', async () => {
    const timeoutMs = 300;
    const { client } = makeClient({ timeoutMs });
    await client.push(record(47, 'US'));
    auth.expireAll();
    backend.script = () => trickling();
    const started = performance.now();

    const error = await rejectionOf(client.push(record(48, 'US')));

    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ reason: 'backend_error', origin: 'backend', transient: true });
    const forSecond = puts().filter((request) => request.url.pathname === '/apps/48/countries/US');
    // Attempt 1: the 401 and its repeat (which trickles); attempts 2 and 3 trickle with the renewed token.
    expect(forSecond.map(bearerOf)).toEqual(
      [auth.issued[0], auth.issued[1], auth.issued[1], auth.issued[1]].map((token) => `Bearer ${token}`),
    );
    expect(elapsed).toBeLessThan(MAX_ATTEMPTS * timeoutMs + MOST_BACKOFF_MS + 400);
  });

  it('does not count the time the token takes against the PUT, nor a renewal against the repeat', async () => {
    // Token 200 ms + answer 200 ms: over a 300 ms bound only if the bound counted the token.
    const timeoutMs = 300;
    auth.delayMs = 200;
    backend.script = () => ({ status: 200, body: { stored: true }, delayMs: 200 });
    const { client } = makeClient({ timeoutMs });

    await client.push(record(49, 'US'));
    auth.expireAll();
    await client.push(record(49, 'GB'));

    expect(puts().map((request) => request.url.pathname)).toEqual([
      '/apps/49/countries/US',
      '/apps/49/countries/GB',
      '/apps/49/countries/GB',
    ]);
    expect(auth.issued).toHaveLength(2);
  });

  it('tries a push whose connection drops at most BACKEND_MAX_ATTEMPTS times', async () => {
    backend.script = () => ({ status: 200, reset: true });
    const { client } = makeClient();

    const error = await rejectionOf(client.push(record(43, 'US')));

    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).reason).toBe('backend_error');
    expect(puts()).toHaveLength(MAX_ATTEMPTS);
  });

  it('tries a push to a backend that refuses connections at most BACKEND_MAX_ATTEMPTS times', async () => {
    const { client, attempts } = makeClient({ backendUrl: await refusingUrl() });

    const error = await rejectionOf(client.push(record(44, 'US')));

    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).reason).toBe('backend_error');
    expect(attempts()).toBe(MAX_ATTEMPTS);
  });

  it.each([400, 403, 404, 409, 422])(
    'rejects a push answered %i as backend_rejected after one attempt',
    async (status) => {
      backend.script = () => ({ status, body: { error: 'no' } });
      const { client } = makeClient();

      const error = await rejectionOf(client.push(record(50, 'US')));

      expect(error).toBeInstanceOf(BackendError);
      expect(error).toMatchObject({ reason: 'backend_rejected', origin: 'backend' });
      expect(puts()).toHaveLength(1);
    },
  );

  it('fails with backend_error, without a PUT or a retry storm, when the auth server keeps failing', async () => {
    auth.script = () => ({ status: 503, body: { error: 'down' } });
    const { client } = makeClient();

    const error = await rejectionOf(client.push(record(60, 'US')));

    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ reason: 'backend_error', origin: 'auth' });
    expect(puts()).toHaveLength(0);
    // The token fetch retries by itself; the push must not multiply its attempts.
    expect(auth.requests).toHaveLength(MAX_ATTEMPTS);
  });

  it('fails with backend_error after one auth request when the auth server answers 4xx', async () => {
    auth.script = () => ({ status: 400, body: { error: 'invalid_client' } });
    const { client } = makeClient();

    const error = await rejectionOf(client.push(record(61, 'US')));

    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ reason: 'backend_error', origin: 'auth' });
    expect(puts()).toHaveLength(0);
    expect(auth.requests).toHaveLength(1);
  });

  it('fails with backend_error when the token cannot be renewed after a 401', async () => {
    const { client } = makeClient();
    await client.push(record(62, 'US'));
    auth.expireAll();
    auth.script = () => ({ status: 401, body: { error: 'invalid_client' } });

    const error = await rejectionOf(client.push(record(63, 'US')));

    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ reason: 'backend_error', origin: 'auth' });
    expect(puts().filter((request) => request.url.pathname === '/apps/63/countries/US')).toHaveLength(1);
    expect(auth.requests).toHaveLength(2);
  });

  /**
   * The stand-in holds every answer `holdMs`, so a slot frees no earlier than
   * `holdMs` after its PUT arrived: the most PUTs arriving within any `holdMs`
   * is the most in flight at once.
   */
  const mostInFlight = (holdMs: number) =>
    maxInSlidingWindow(
      puts().map((request) => request.at),
      holdMs,
    );

  it('runs at most BACKEND_CONCURRENCY PUTs at once', async () => {
    const holdMs = 100;
    backend.script = () => ({ status: 200, body: { stored: true }, delayMs: holdMs });
    const { client } = makeClient({ concurrency: 4 });

    await Promise.all(Array.from({ length: 30 }, (_, index) => client.push(record(100 + index, 'US'))));

    expect(new Set(puts().map((request) => request.url.pathname)).size).toBe(30);
    expect(puts()).toHaveLength(30);
    expect(mostInFlight(holdMs)).toBe(4);
  });

  it('keeps the limit while pushes are retried', async () => {
    const holdMs = 50;
    backend.script = ({ appId }) => {
      const tries = puts().filter((request) => request.url.pathname === `/apps/${appId}/countries/US`).length;
      return { status: tries === 1 ? 503 : 200, body: null, delayMs: holdMs };
    };
    const { client } = makeClient({ concurrency: 3 });

    await Promise.all(Array.from({ length: 12 }, (_, index) => client.push(record(200 + index, 'US'))));

    expect(puts()).toHaveLength(24);
    expect(mostInFlight(holdMs)).toBeLessThanOrEqual(3);
  });

  it.each<{ failure: string; script?: (token: () => string) => Reply; timeoutMs?: number; refused?: boolean }>([
    { failure: 'two 401s', script: () => ({ status: 401, body: { error: 'invalid_token' } }) },
    {
      failure: 'repeated 503s',
      script: (token) => ({ status: 503, text: `<html>upstream saw Bearer ${token()}</html>` }),
    },
    {
      failure: 'a 422 that echoes the token',
      script: (token) => ({ status: 422, body: { error: 'bad', token: token() } }),
    },
    { failure: 'timeouts', script: () => ({ status: 200, delayMs: 1500 }), timeoutMs: 150 },
    { failure: 'answers that trickle', script: () => trickling(), timeoutMs: 150 },
    { failure: 'dropped connections', script: () => ({ status: 200, reset: true }) },
    { failure: 'refused connections', refused: true },
  ])(
    'keeps the token and the client secret out of its error after $failure',
    async ({ script, timeoutMs, refused }) => {
      const latestToken = () => auth.issued.at(-1) ?? '';
      if (script) backend.script = () => script(latestToken);
      const { client } = makeClient({ timeoutMs, backendUrl: refused ? await refusingUrl() : undefined });

      const error = await rejectionOf(client.push(record(70, 'US')));

      expect(error).toBeInstanceOf(BackendError);
      expect(auth.issued.length).toBeGreaterThan(0);
      for (const token of auth.issued) expect(everythingIn(error)).not.toContain(token);
      expect(everythingIn(error)).not.toContain(TEST_CLIENT_SECRET);
    },
  );

  it('keeps the token out of the error of a PUT repeated after a 401 that trickles', async () => {
    const { client } = makeClient({ timeoutMs: 150 });
    await client.push(record(71, 'US'));
    auth.expireAll();
    backend.script = () => trickling();

    const error = await rejectionOf(client.push(record(72, 'US')));

    expect(error).toBeInstanceOf(BackendError);
    for (const token of auth.issued) expect(everythingIn(error)).not.toContain(token);
  });

  describe('probeAuth', () => {
    it('asks the auth server for a new token even while one is cached, and pushes with it', async () => {
      const { client } = makeClient();
      await client.push(record(80, 'US'));

      await client.probeAuth();

      expect(auth.requests).toHaveLength(2);
      await client.push(record(81, 'US'));
      expect(puts().map(bearerOf)).toEqual([`Bearer ${auth.issued[0]}`, `Bearer ${auth.issued[1]}`]);
      expect(auth.requests).toHaveLength(2);
    });

    it('asks once for probes and pushes that need a token at the same moment', async () => {
      auth.delayMs = 100;
      const { client } = makeClient();

      await Promise.all([client.probeAuth(), client.probeAuth(), client.push(record(82, 'US'))]);

      expect(auth.requests).toHaveLength(1);
      expect(puts().map(bearerOf)).toEqual([`Bearer ${auth.issued[0]}`]);
    });

    it.each<{ answer: string; script: () => Reply; requests: number }>([
      { answer: '401', script: () => ({ status: 401, body: { error: 'invalid_client' } }), requests: 1 },
      { answer: '503', script: () => ({ status: 503, body: { error: 'down' } }), requests: MAX_ATTEMPTS },
      { answer: 'a trickle', script: () => trickling(), requests: MAX_ATTEMPTS },
    ])(
      'rejects with a BackendError of origin auth when the auth server answers $answer',
      async ({ script, requests }) => {
        const { client } = makeClient({ timeoutMs: 200 });
        await client.push(record(83, 'US'));
        auth.script = script;

        const error = await rejectionOf(client.probeAuth());

        expect(error).toBeInstanceOf(BackendError);
        expect(error).toMatchObject({ reason: 'backend_error', origin: 'auth', transient: false });
        expect(auth.requests).toHaveLength(1 + requests);
        expect(everythingIn(error)).not.toContain(TEST_CLIENT_SECRET);
      },
    );

    it('rejects without a PUT when the auth server is unreachable', async () => {
      const { client } = makeClient();
      auth.script = () => ({ status: 200, reset: true });

      const error = await rejectionOf(client.probeAuth());

      expect(error).toMatchObject({ reason: 'backend_error', origin: 'auth' });
      expect(puts()).toHaveLength(0);
    });
  });
});
