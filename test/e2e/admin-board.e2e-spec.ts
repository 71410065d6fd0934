import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { ADMIN_AUTHORIZATION, basicAuthorization, runSteamJobs, TEST_ADMIN } from '../support/admin-board';
import { OutputCapture } from '../support/output-capture';
import { useWorld } from '../support/vitest-world';

const STEAM_QUEUE_NAMES = ['steam-requests', 'steam-requests-api'];

interface BoardQueue {
  name: string;
  counts: Record<string, number>;
  readOnlyMode: boolean;
}

/** The queue dashboard (docs/contract.md#http-endpoints): 404 when off, 401 without credentials, read-only when on. */
describe('queue dashboard at /admin/queues with ADMIN_USER and ADMIN_PASSWORD', () => {
  const capture = new OutputCapture();
  // Logs at trace, so that the scan for the password has something to read.
  const world = useWorld('admin-board', () => ({ ...TEST_ADMIN, LOG_LEVEL: 'trace' }), { capture });
  const get = (path: string, authorization?: string) =>
    fetch(`${world.worker.url}${path}`, { headers: authorization ? { authorization } : {} });

  it.each(['/admin/queues', '/admin/queues/', '/admin/queues/api/queues', '/admin/queues/static/favicon-32x32.png'])(
    'answers 401 with a Basic challenge to %s without credentials',
    async (path) => {
      const response = await get(path);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Basic realm="steam-worker"');
    },
  );

  it.each([
    ['a wrong password', basicAuthorization(TEST_ADMIN.ADMIN_USER, 'not-the-password')],
    ['a wrong user', basicAuthorization('someone', TEST_ADMIN.ADMIN_PASSWORD)],
    ['the password as the user', basicAuthorization(TEST_ADMIN.ADMIN_PASSWORD, TEST_ADMIN.ADMIN_USER)],
    ['an empty password', basicAuthorization(TEST_ADMIN.ADMIN_USER, '')],
    ['a password with extra characters', basicAuthorization(TEST_ADMIN.ADMIN_USER, `${TEST_ADMIN.ADMIN_PASSWORD}x`)],
    ['another scheme', `Bearer ${TEST_ADMIN.ADMIN_PASSWORD}`],
    ['no colon', `Basic ${Buffer.from(TEST_ADMIN.ADMIN_USER).toString('base64')}`],
  ])('answers 401 to %s', async (_case, authorization) => {
    for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
      expect((await get(path, authorization)).status).toBe(401);
    }
  });

  it('shows the page and its assets with the right credentials', async () => {
    const page = await get('/admin/queues', ADMIN_AUTHORIZATION);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    // Bull Board's assets are relative to the route it was mounted on.
    expect(html).toContain('<base href="/admin/queues/"');
    expect(html).toContain('<title>steam-worker</title>');
    const asset = await get('/admin/queues/static/favicon-32x32.png', ADMIN_AUTHORIZATION);
    expect(asset.status).toBe(200);
  });

  it('lists both Steam queues, read-only, with the jobs of a task that ran', async () => {
    await runSteamJobs(world, 'admin-board-jobs');
    const response = await get('/admin/queues/api/queues', ADMIN_AUTHORIZATION);
    expect(response.status).toBe(200);
    const { queues } = (await response.json()) as { queues: BoardQueue[] };
    expect(queues.map((queue) => queue.name).sort()).toEqual(STEAM_QUEUE_NAMES);
    for (const queue of queues) expect(queue.readOnlyMode).toBe(true);
    const counts = Object.fromEntries(queues.map((queue) => [queue.name, queue.counts]));
    expect(counts['steam-requests']!.completed).toBeGreaterThanOrEqual(3);
    expect(counts['steam-requests-api']!.completed).toBeGreaterThanOrEqual(1);
  });

  it('answers 401 to a change without credentials, whatever the method', async () => {
    for (const method of ['PUT', 'POST', 'DELETE']) {
      const response = await fetch(`${world.worker.url}/admin/queues/api/queues/steam-requests/pause`, { method });
      expect(response.status).toBe(401);
    }
  });

  it.each([
    ['PUT', '/admin/queues/api/queues/steam-requests/clean/completed'],
    ['PUT', '/admin/queues/api/queues/steam-requests/pause'],
    ['PUT', '/admin/queues/api/queues/steam-requests-api/empty'],
  ])('refuses %s %s: the board is read-only', async (method, path) => {
    const response = await fetch(`${world.worker.url}${path}`, {
      method,
      headers: { authorization: ADMIN_AUTHORIZATION },
    });
    expect(response.status).toBe(405);
  });

  it('leaves the health endpoints and /metrics open', async () => {
    for (const path of ['/health', '/health/ready']) {
      const response = await get(path);
      expect(response.status).toBe(200);
      expect(await response.text()).not.toContain(TEST_ADMIN.ADMIN_PASSWORD);
    }
    // /metrics is no business of the dashboard's credentials, whatever it answers.
    expect((await get('/metrics')).status).not.toBe(401);
  });

  it('never writes the admin password to its logs, neither plain nor as the Authorization header carries it', async () => {
    await world.worker.close();
    const written = capture.output.join('\n');
    expect(capture.output.length).toBeGreaterThan(0);
    expect(written).not.toContain(TEST_ADMIN.ADMIN_PASSWORD);
    expect(written).not.toContain(ADMIN_AUTHORIZATION.replace(/^Basic /, ''));
  });
});

describe('queue dashboard without ADMIN_USER and ADMIN_PASSWORD', () => {
  const world = useWorld('admin-board-off');

  it.each(['/admin/queues', '/admin/queues/api/queues'])('does not exist: %s answers 404', async (path) => {
    const response = await fetch(`${world.worker.url}${path}`, { headers: { authorization: ADMIN_AUTHORIZATION } });
    expect(response.status).toBe(404);
  });

  const built = existsSync(join(__dirname, '..', '..', 'dist', 'main.js'));

  it.runIf(built).each([
    ['ADMIN_USER', { ADMIN_PASSWORD: TEST_ADMIN.ADMIN_PASSWORD }],
    ['ADMIN_PASSWORD', { ADMIN_USER: TEST_ADMIN.ADMIN_USER }],
  ])('stops with exit code 1 and one line naming %s when only the other is set', async (missing, env) => {
    const worker = await world.spawn(env, { waitReady: false });
    expect(await worker.exited).toBe(1);
    const lines = worker.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(missing);
    expect(worker.output()).not.toContain(TEST_ADMIN.ADMIN_PASSWORD);
  });
});
