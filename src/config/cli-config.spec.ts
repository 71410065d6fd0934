import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { cliEnvironment, loadCliConfig } from './cli-config';
import { ConfigError } from './config.errors';

describe(loadCliConfig.name, () => {
  it('needs none of the worker-only variables and applies the worker defaults', () => {
    expect(loadCliConfig({})).toEqual({
      rabbit: {
        url: 'amqp://guest:guest@127.0.0.1:5672',
        workerQueue: 'steam-worker.tasks',
        deadLetterQueue: 'steam-worker.tasks.dlq',
      },
      redis: { url: 'redis://127.0.0.1:6379', prefix: 'steam-worker' },
    });
  });

  it('does not check what it does not read, however wrong', () => {
    expect(() => loadCliConfig({ BACKEND_URL: 'not a url', HTTP_PORT: 'x', STEAM_PROXIES: 'nonsense' })).not.toThrow();
  });

  it('refuses a bad variable of its own by name, never by value', () => {
    const secret = 'ftp://user:hunter2@broker';
    let error: unknown;
    try {
      loadCliConfig({ RABBITMQ_URL: secret });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('RABBITMQ_URL');
    expect((error as Error).message).not.toContain('hunter2');
    expect(() => loadCliConfig({ REDIS_PREFIX: 'has space' })).toThrow(/REDIS_PREFIX/);
    expect(() => loadCliConfig({ WORKER_QUEUE: 'q'.repeat(252) })).toThrow(/WORKER_QUEUE/);
  });
});

describe(cliEnvironment.name, () => {
  it('reads .env of the directory under the process environment', () => {
    const directory = mkdtempSync(join(tmpdir(), 'cli-config-'));
    writeFileSync(join(directory, '.env'), 'CLI_CONFIG_SPEC_FROM_FILE=file\nPATH=from-file\n');
    const env = cliEnvironment(directory);
    expect(env.CLI_CONFIG_SPEC_FROM_FILE).toBe('file');
    expect(env.PATH).toBe(process.env.PATH);
  });

  it('does without a .env', () => {
    expect(cliEnvironment(mkdtempSync(join(tmpdir(), 'cli-config-')))).toMatchObject({ PATH: process.env.PATH });
  });
});
