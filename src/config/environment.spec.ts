import { describe, expect, it } from 'vitest';

import { ConfigError } from './config.errors';
import { validateEnvironment } from './environment';
import { toWorkerConfig } from './worker-config';

const REQUIRED = {
  BACKEND_URL: 'http://backend.internal:8080/',
  AUTH_URL: 'http://auth.internal/oauth/token',
  AUTH_CLIENT_ID: 'worker',
  AUTH_CLIENT_SECRET: 's3cret-value',
};

/** Every time the worker reads, in ms or (`_S`) in seconds. */
const TIME_VARIABLES = [
  'TASK_STATE_TTL_S',
  'STEAM_RATE_WINDOW_MS',
  'STEAM_API_RATE_WINDOW_MS',
  'STEAM_RATE_MARGIN_MS',
  'STEAM_TIMEOUT_MS',
  'STEAM_BACKOFF_MS',
  'STEAM_COOLDOWN_MS',
  'BACKEND_TIMEOUT_MS',
  'BACKEND_BACKOFF_MS',
  'BACKEND_CIRCUIT_PROBE_MS',
  'BACKEND_CIRCUIT_GIVE_UP_MS',
  'LIVENESS_CONSUMER_GRACE_MS',
  'SHUTDOWN_GRACE_MS',
] as const;

function configError(env: Record<string, string>): ConfigError {
  try {
    validateEnvironment(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe(validateEnvironment.name, () => {
  it('applies the contract defaults when only the required variables are set', () => {
    const config = toWorkerConfig(validateEnvironment(REQUIRED));
    expect(config.rabbit).toEqual({
      url: 'amqp://guest:guest@127.0.0.1:5672',
      workerQueue: 'steam-worker.tasks',
      deadLetterQueue: 'steam-worker.tasks.dlq',
      orchestratorQueue: 'steam-orchestrator.results',
      prefetch: 4,
    });
    expect(config.steam).toMatchObject({
      apiUrl: 'https://api.steampowered.com',
      storeUrl: 'https://store.steampowered.com',
      language: 'english',
      // Two budgets per egress, each with a margin of 2 % of its window.
      budgets: {
        store: { limit: 40, windowMs: 60000, marginMs: 1200 },
        api: { limit: 40, windowMs: 60000, marginMs: 1200 },
      },
      timeoutMs: 15000,
      cooldownMs: 30000,
      egressConcurrency: 1,
      direct: true,
      retry: { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 30000, jitter: 0.2 },
    });
    expect(config.backend).toMatchObject({ url: 'http://backend.internal:8080', timeoutMs: 10000, concurrency: 8 });
    expect(config.backend.retry).toMatchObject({ maxAttempts: 5, baseDelayMs: 500 });
    expect(config.redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: 'steam-worker', taskStateTtlS: 604800 });
    expect(config.http).toEqual({ port: 3000, host: '0.0.0.0' });
    expect(config.health.consumerGraceMs).toBe(30000);
    expect(config.shutdownGraceMs).toBe(25000);
    expect(config.logLevel).toBe('info');
    expect(config.tasks.maxBatchApps).toBe(10000);
    expect(config.tasks.maxDeliveries).toBe(10);
    expect(config.tasks.progressMs).toBe(0);
    expect(config.backend.circuit).toEqual({ failures: 20, probeMs: 30000, giveUpMs: 600000 });
  });

  it('reads MAX_DELIVERIES and the backend circuit variables into tasks and backend.circuit', () => {
    const config = toWorkerConfig(
      validateEnvironment({
        ...REQUIRED,
        MAX_DELIVERIES: '3',
        BACKEND_CIRCUIT_FAILURES: '7',
        BACKEND_CIRCUIT_PROBE_MS: '1500',
        BACKEND_CIRCUIT_GIVE_UP_MS: '90000',
      }),
    );
    expect(config.tasks.maxDeliveries).toBe(3);
    expect(config.backend.circuit).toEqual({ failures: 7, probeMs: 1500, giveUpMs: 90000 });
  });

  it('reads the Web API budget apart from the store budget, each with a margin of 2 % of its own window', () => {
    const config = toWorkerConfig(
      validateEnvironment({
        ...REQUIRED,
        STEAM_RATE_LIMIT: '30',
        STEAM_RATE_WINDOW_MS: '50000',
        STEAM_API_RATE_LIMIT: '100',
        STEAM_API_RATE_WINDOW_MS: '300000',
      }),
    );
    expect(config.steam.budgets).toEqual({
      store: { limit: 30, windowMs: 50000, marginMs: 1000 },
      api: { limit: 100, windowMs: 300000, marginMs: 6000 },
    });
  });

  it('applies STEAM_RATE_MARGIN_MS, when set, to both budgets', () => {
    const { budgets } = toWorkerConfig(validateEnvironment({ ...REQUIRED, STEAM_RATE_MARGIN_MS: '100' })).steam;
    expect([budgets.store.marginMs, budgets.api.marginMs]).toEqual([100, 100]);
  });

  it.each(['BACKEND_URL', 'AUTH_URL', 'AUTH_CLIENT_ID', 'AUTH_CLIENT_SECRET'])('requires %s', (variable) => {
    const env: Record<string, string> = { ...REQUIRED };
    delete env[variable];
    expect(configError(env).variable).toBe(variable);
  });

  it.each([
    ['STEAM_RATE_LIMIT', '0'],
    ['STEAM_RATE_LIMIT', '1.5'],
    ['STEAM_RATE_WINDOW_MS', '-100'],
    ['STEAM_API_RATE_LIMIT', '0'],
    ['STEAM_API_RATE_LIMIT', '2.5'],
    ['STEAM_API_RATE_WINDOW_MS', '-100'],
    ['WORKER_CONCURRENCY', 'four'],
    ['TASK_STATE_TTL_S', '1e3'],
    ['STEAM_DIRECT', 'yes'],
    ['LOG_LEVEL', 'verbose'],
    ['RABBITMQ_URL', 'http://127.0.0.1:5672'],
    ['REDIS_URL', 'localhost:6379'],
    ['REDIS_PREFIX', 'has space'],
    ['HTTP_PORT', '70000'],
  ])('rejects %s=%s, naming the variable but not the value', (variable, value) => {
    const error = configError({ ...REQUIRED, [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
    expect(error.message).not.toContain(value);
  });

  it.each(TIME_VARIABLES)("refuses %s at 0 and above 2147483647, Node's timer limit", (variable) => {
    for (const value of ['2147483648', '0']) {
      const error = configError({ ...REQUIRED, [variable]: value });
      expect(error.variable).toBe(variable);
      expect(error.message).not.toContain(value);
    }
  });

  it('accepts every time at exactly the timer limit', () => {
    const env = validateEnvironment({
      ...REQUIRED,
      ...Object.fromEntries(TIME_VARIABLES.map((variable) => [variable, '2147483647'])),
    });
    for (const variable of TIME_VARIABLES) expect(env[variable]).toBe(2147483647);
  });

  it.each([
    ['WORKER_CONCURRENCY', '256', '257'],
    ['BACKEND_CONCURRENCY', '256', '257'],
    ['STEAM_EGRESS_CONCURRENCY', '256', '257'],
    ['STEAM_FEED_WINDOW', '4096', '4097'],
    ['MAX_BATCH_APPS', '100000', '100001'],
    ['MAX_DELIVERIES', '1000', '1001'],
    ['BACKEND_CIRCUIT_FAILURES', '100000', '100001'],
  ] as const)('accepts %s=%s at its upper bound and refuses %s above it', (variable, highest, above) => {
    expect(validateEnvironment({ ...REQUIRED, [variable]: highest })[variable]).toBe(Number(highest));
    const error = configError({ ...REQUIRED, [variable]: above });
    expect(error.variable).toBe(variable);
    expect(error.message).not.toContain(above);
    expect(configError({ ...REQUIRED, [variable]: '0' }).variable).toBe(variable);
  });

  it.each(['0', '200', '2147483647'])('accepts TASK_PROGRESS_MS=%s, 0 turning task.progress off', (value) => {
    const config = toWorkerConfig(validateEnvironment({ ...REQUIRED, TASK_PROGRESS_MS: value }));
    expect(config.tasks.progressMs).toBe(Number(value));
  });

  it.each(['-1', '1.5', '2147483648', 'soon'])('refuses TASK_PROGRESS_MS=%s, naming the variable only', (value) => {
    const error = configError({ ...REQUIRED, TASK_PROGRESS_MS: value });
    expect(error.variable).toBe('TASK_PROGRESS_MS');
    expect(error.message).not.toContain(value);
  });

  it.each([
    // 251: `<WORKER_QUEUE>.dlq` must fit in AMQP's 255 bytes too.
    ['WORKER_QUEUE', 'q'.repeat(251), 'q'.repeat(252)],
    // 2 bytes each in UTF-8: 126 characters are already 252 bytes.
    ['WORKER_QUEUE', 'é'.repeat(125) + 'q', 'é'.repeat(126)],
    ['ORCHESTRATOR_QUEUE', 'q'.repeat(255), 'q'.repeat(256)],
    ['ORCHESTRATOR_QUEUE', 'é'.repeat(127) + 'q', 'é'.repeat(128)],
  ])('bounds %s in UTF-8 bytes, not characters', (variable, longest, tooLong) => {
    expect(validateEnvironment({ ...REQUIRED, [variable]: longest })[variable as 'WORKER_QUEUE']).toBe(longest);
    const error = configError({ ...REQUIRED, [variable]: tooLong });
    expect(error.variable).toBe(variable);
    expect(error.message).not.toContain(tooLong);
  });

  it.each(['0.0.0.0', '::', '127.0.0.1', '::1', 'localhost', 'my-host.internal'])(
    'accepts HTTP_HOST=%s, an IP address or a host name',
    (host) => {
      expect(toWorkerConfig(validateEnvironment({ ...REQUIRED, HTTP_HOST: host })).http.host).toBe(host);
    },
  );

  it.each(['has space', 'http://x', 'host:3000', '[::]'])(
    'refuses HTTP_HOST=%s, naming the rule but not the value',
    (host) => {
      const error = configError({ ...REQUIRED, HTTP_HOST: host });
      expect(error.variable).toBe('HTTP_HOST');
      expect(error.message).toContain('IP address or a host name');
      expect(error.message).not.toContain(host);
    },
  );

  it('never puts a secret into its message', () => {
    const error = configError({ ...REQUIRED, BACKEND_URL: 's3cret-value' });
    expect(error.message).not.toContain('s3cret-value');
  });

  it('reads booleans as true/false/1/0 and treats empty values as unset', () => {
    expect(
      validateEnvironment({ ...REQUIRED, STEAM_DIRECT: '0', STEAM_PROXIES: 'http://10.0.0.1:3128' }).STEAM_DIRECT,
    ).toBe(false);
    expect(validateEnvironment({ ...REQUIRED, STEAM_DIRECT: 'true' }).STEAM_DIRECT).toBe(true);
    expect(validateEnvironment({ ...REQUIRED, STEAM_RATE_LIMIT: '' }).STEAM_RATE_LIMIT).toBe(40);
    expect(validateEnvironment({ ...REQUIRED, STEAM_API_KEY: '' }).STEAM_API_KEY).toBeUndefined();
  });

  it('accepts a Redis URL naming a database', () => {
    expect(validateEnvironment({ ...REQUIRED, REDIS_URL: 'redis://redis:6379/3' }).REDIS_URL).toBe(
      'redis://redis:6379/3',
    );
  });
});

describe('STEAM_PROXIES and STEAM_DIRECT', () => {
  it('parses proxies into egresses labelled host:port, without their credentials', () => {
    const env = validateEnvironment({
      ...REQUIRED,
      STEAM_PROXIES: 'http://10.0.0.1:3128, http://user:pa55word@proxy.internal:8080',
    });
    const { proxies } = toWorkerConfig(env).steam;
    expect(proxies.map(({ id, label }) => ({ id, label }))).toEqual([
      { id: 'proxy:10.0.0.1:3128', label: '10.0.0.1:3128' },
      { id: 'proxy:proxy.internal:8080', label: 'proxy.internal:8080' },
    ]);
    expect(proxies[1]!.url).toBe('http://user:pa55word@proxy.internal:8080/');
  });

  it('keeps port 80 in the label and id of a proxy, though URL drops it as the default', () => {
    const env = validateEnvironment({
      ...REQUIRED,
      STEAM_PROXIES: 'http://10.0.0.7:80,http://user:pa55word@proxy.internal:80',
    });
    const { proxies } = toWorkerConfig(env).steam;
    expect(proxies.map(({ id, label }) => ({ id, label }))).toEqual([
      { id: 'proxy:10.0.0.7:80', label: '10.0.0.7:80' },
      { id: 'proxy:proxy.internal:80', label: 'proxy.internal:80' },
    ]);
  });

  it.each([
    ['https://proxy.internal:8080'],
    ['http://user:pa55word@proxy.internal'],
    ['socks5://user:pa55word@proxy.internal:1080'],
    ['http://user:pa55word@proxy.internal:8080/path'],
    ['pa55word'],
  ])('reports a malformed entry (%s) by its position, never its text', (bad) => {
    const error = configError({ ...REQUIRED, STEAM_PROXIES: `http://10.0.0.1:3128,${bad}` });
    expect(error.variable).toBe('STEAM_PROXIES');
    expect(error.message).toContain('entry 2');
    expect(error.message).not.toContain('pa55word');
    expect(error.message).not.toContain('proxy.internal');
  });

  it('refuses STEAM_DIRECT=false without a proxy: there would be no way to Steam', () => {
    expect(configError({ ...REQUIRED, STEAM_DIRECT: 'false' }).variable).toBe('STEAM_DIRECT');
    expect(
      validateEnvironment({ ...REQUIRED, STEAM_DIRECT: 'false', STEAM_PROXIES: 'http://10.0.0.1:3128' }).STEAM_DIRECT,
    ).toBe(false);
  });
});

describe('ADMIN_USER and ADMIN_PASSWORD', () => {
  const admin = (env: Record<string, string>) => toWorkerConfig(validateEnvironment({ ...REQUIRED, ...env })).admin;

  it('turns the queue dashboard off when neither is set, or both are empty', () => {
    expect(admin({})).toBeUndefined();
    expect(admin({ ADMIN_USER: '', ADMIN_PASSWORD: '' })).toBeUndefined();
  });

  it('turns it on with both', () => {
    expect(admin({ ADMIN_USER: 'operator', ADMIN_PASSWORD: 'adm1n-secret' })).toEqual({
      user: 'operator',
      password: 'adm1n-secret',
    });
  });

  it.each([
    ['ADMIN_USER', { ADMIN_PASSWORD: 'adm1n-secret' }],
    ['ADMIN_USER', { ADMIN_USER: '', ADMIN_PASSWORD: 'adm1n-secret' }],
    ['ADMIN_PASSWORD', { ADMIN_USER: 'operator' }],
    ['ADMIN_PASSWORD', { ADMIN_USER: 'operator', ADMIN_PASSWORD: '' }],
  ])('refuses one without the other, naming %s and no value', (missing, env) => {
    const error = configError({ ...REQUIRED, ...env });
    expect(error.variable).toBe(missing);
    expect(error.message).not.toContain('adm1n-secret');
    expect(error.message).not.toContain('operator');
  });

  it('refuses a user with a colon, which basic auth cannot carry', () => {
    const error = configError({ ...REQUIRED, ADMIN_USER: 'ops:team', ADMIN_PASSWORD: 'adm1n-secret' });
    expect(error.variable).toBe('ADMIN_USER');
    expect(error.message).not.toContain('ops:team');
  });
});

describe('STEAM_PRICE_SOURCE and STEAM_PRICE_BATCH', () => {
  const prices = (env: Record<string, string>) =>
    toWorkerConfig(validateEnvironment({ ...REQUIRED, ...env })).steam.prices;

  it('reads prices from appdetails, 100 apps a request, unless told', () => {
    expect(prices({})).toEqual({ source: 'appdetails', batch: 100 });
  });

  it('asks GetItems 400 apps a request by default', () => {
    expect(prices({ STEAM_PRICE_SOURCE: 'storebrowse' })).toEqual({ source: 'storebrowse', batch: 400 });
  });

  it.each([
    ['appdetails', '1000', '1001'],
    ['storebrowse', '400', '401'],
  ])('bounds the batch of %s by its source: %s is the most', (source, highest, above) => {
    expect(prices({ STEAM_PRICE_SOURCE: source, STEAM_PRICE_BATCH: highest })).toEqual({
      source,
      batch: Number(highest),
    });
    for (const value of [above, '0', 'ten']) {
      const error = configError({ ...REQUIRED, STEAM_PRICE_SOURCE: source, STEAM_PRICE_BATCH: value });
      expect(error.variable).toBe('STEAM_PRICE_BATCH');
      expect(error.message).not.toContain(value);
    }
  });

  it('refuses a source it does not know, naming the variable but not the value', () => {
    const error = configError({ ...REQUIRED, STEAM_PRICE_SOURCE: 'scraper' });
    expect(error.variable).toBe('STEAM_PRICE_SOURCE');
    expect(error.message).not.toContain('scraper');
  });
});
