import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { freePort } from '../support/free-port';
import { projectRoot } from '../support/project-root';
import { RABBITMQ_URL, waitFor } from '../support/rmq';
import { bodyOf } from '../support/shapes';
import { useWorld } from '../support/vitest-world';

/** The built CLI (`npm run build`), run as an operator runs it. */
const CLI = join(projectRoot(), 'dist', 'cli', 'main.js');
/** A directory without a .env, so that nothing but the test's variables configures the CLI. */
const WORKING_DIRECTORY = mkdtempSync(join(tmpdir(), 'steam-worker-cli-'));

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

describe('steam-worker CLI', () => {
  // No STEAM_API_KEY: apps.list fails not_configured and is dead-lettered. The
  // probe leaves the dead-letter queue alone, for the CLI to find its messages there.
  const fixture = useWorld('cli', () => ({ STEAM_API_KEY: '' }), { collectDeadLetters: false });
  const { names } = fixture;
  const dlq = `${names.WORKER_QUEUE}.dlq`;

  /** Only the variables the CLI reads: no BACKEND_URL, no AUTH_*, which the worker requires. */
  const cliEnvironment = () => ({
    RABBITMQ_URL,
    WORKER_QUEUE: names.WORKER_QUEUE,
    REDIS_URL: fixture.env.REDIS_URL!,
    REDIS_PREFIX: names.REDIS_PREFIX,
  });

  function cli(args: string[], env: Record<string, string> = cliEnvironment()): Promise<CliRun> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [CLI, ...args],
        { cwd: WORKING_DIRECTORY, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 45_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  it('publishes a batch as a request, follows its accepted pairs and prints the summary with the failed apps', async () => {
    fixture.standIns.steam.script = ({ appId, country }) =>
      appId === 703 && country === 'DE' ? { status: 404, body: null } : undefined;
    try {
      const run = await cli(['fetch', '--apps', '701,702,703', '--countries', 'us,DE', '--task', 'cli-fetch']);

      expect(run.stderr).toContain('Published apps.fetch task cli-fetch');
      // Not a terminal: plain lines, no redraws (no carriage returns or escape codes).
      expect(run.stderr).toMatch(/apps\.fetch cli-fetch: 5\/6 pairs accepted/);
      expect(run.stderr).not.toContain('\r');
      expect(run.stderr).not.toContain('\u001b[');
      expect(run.stdout).toMatch(/task\s+cli-fetch \(apps\.fetch\)/);
      expect(run.stdout).toMatch(/updated\s+2 app\(s\)/);
      expect(run.stdout).toMatch(/failed\s+1 app\(s\)/);
      expect(run.stdout).toMatch(/703\s+DE\s+steam_error/);
      expect(run.code).toBe(0);
      expect(bodyOf(await fixture.resultOf('cli-fetch')).data).toMatchObject({ updated: [701, 702] });
    } finally {
      fixture.standIns.steam.script = undefined;
    }
  });

  it('sends one app in one country as app.fetch', async () => {
    const run = await cli(['fetch', '--apps', '711', '--countries', 'PL', '--task', 'cli-one']);

    expect(run.stdout).toMatch(/task\s+cli-one \(app\.fetch\)/);
    expect(run.stdout).toMatch(/updated\s+1 app\(s\)/);
    expect(bodyOf(await fixture.resultOf('cli-one')).pattern).toBe('app.fetch.done');
  });

  it('stops waiting at --timeout and says that the task goes on', async () => {
    // A queue no worker consumes: the task waits there.
    const idle = `${names.WORKER_QUEUE}.idle`;
    try {
      const run = await cli(['list', '--task', 'cli-idle', '--timeout', '1'], {
        ...cliEnvironment(),
        WORKER_QUEUE: idle,
      });

      expect(run.code).toBe(1);
      expect(run.stderr).toContain('steam-worker: no reply within the timeout: task cli-idle goes on in the worker');
      expect(run.stdout).toBe('');
    } finally {
      await fixture.rabbit.deleteQueues(idle, `${idle}.dlq`);
    }
  });

  it('lists a task dead-lettered for a missing key, replays it once the key is set, and it completes', async () => {
    const failed = await cli(['list', '--task', 'cli-list']);
    expect(failed.stdout).toMatch(/failed\s+not_configured: /);
    expect(failed.code).toBe(1);

    const listed = await waitFor(
      async () => {
        const run = await cli(['dlq', 'list']);
        return run.stdout.includes('cli-list') ? run : undefined;
      },
      20_000,
      'the dead letter in dlq list',
    );
    expect(listed.stdout).toContain(`${dlq}: 1 message(s)`);
    expect(listed.stdout).toMatch(
      new RegExp(`cli-list\\s+apps\\.list\\s+rejected from ${names.WORKER_QUEUE} \\(1×\\)\\s+\\d+s`),
    );
    expect(listed.code).toBe(0);

    const peeked = await cli(['dlq', 'peek', '--task', 'cli-list']);
    expect(JSON.parse(peeked.stdout.trim())).toMatchObject({
      taskId: 'cli-list',
      pattern: 'apps.list',
      body: { pattern: 'apps.list', data: { taskId: 'cli-list' } },
      properties: { messageId: 'cli-list' },
    });
    // Peeking left it in place.
    expect((await cli(['dlq', 'list'])).stdout).toContain(`${dlq}: 1 message(s)`);

    // The operator fixes the cause: the worker restarts with the key.
    await fixture.worker.close();
    await fixture.startWorker({ STEAM_API_KEY: fixture.standIns.steam.apiKey });
    fixture.standIns.steam.appList = [10, 20, 30];

    const replayed = await cli(['dlq', 'replay', '--task', 'cli-list']);
    expect(replayed.stdout).toContain(`replayed cli-list apps.list to ${names.WORKER_QUEUE}`);
    expect(replayed.code).toBe(0);

    const done = await waitFor(
      () => fixture.resultsFor('cli-list').find((message) => bodyOf(message).pattern === 'apps.list.done'),
      30_000,
      'apps.list.done of the replayed task',
    );
    expect(bodyOf(done).data).toEqual({ taskId: 'cli-list', appIds: [10, 20, 30], count: 3 });
    const empty = await cli(['dlq', 'list']);
    expect(empty.stdout.trim()).toBe(`${dlq} is empty`);
  });

  it('says in one line that the broker does not answer, without its password', async () => {
    const port = await freePort();
    const run = await cli(['dlq', 'list'], {
      ...cliEnvironment(),
      RABBITMQ_URL: `amqp://guest:hunter2-secret@127.0.0.1:${port}`,
    });

    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      `steam-worker: RabbitMQ at amqp://127.0.0.1:${port} does not answer (ECONNREFUSED)`,
    ]);
    expect(run.stdout + run.stderr).not.toContain('hunter2');
  });

  it('refuses an empty DLQ and an unknown taskId, and purges only with --yes', async () => {
    expect(await cli(['dlq', 'replay', '--all'])).toMatchObject({ code: 1, stderr: `steam-worker: ${dlq} is empty\n` });
    expect(await cli(['dlq', 'peek'])).toMatchObject({ code: 1, stderr: `steam-worker: ${dlq} is empty\n` });

    // Two dead letters: a body that is no JSON and an invalid task.
    fixture.publish('not json', { messageId: 'cli-garbage' });
    fixture.publishTask('app.fetch', { taskId: 'cli-invalid', appId: 0, country: 'US' });
    await waitFor(
      async () => (await cli(['dlq', 'list'])).stdout.includes(': 2 message(s)'),
      20_000,
      'two dead letters',
    );

    expect(await cli(['dlq', 'replay', '--task', 'cli-nothing'])).toMatchObject({
      code: 1,
      stderr: `steam-worker: no message with taskId cli-nothing in ${dlq}\n`,
    });
    const refused = await cli(['dlq', 'purge']);
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('add --yes') });
    expect((await cli(['dlq', 'list'])).stdout).toContain(': 2 message(s)');

    const purged = await cli(['dlq', 'purge', '--yes']);
    expect(purged).toMatchObject({ code: 0, stdout: `purged 2 message(s) from ${dlq}\n` });
    expect((await cli(['dlq', 'list'])).stdout.trim()).toBe(`${dlq} is empty`);
  });
});
