import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runSteamJobs, TEST_ADMIN } from '../support/admin-board';
import { useWorld } from '../support/vitest-world';
import { chromiumPath } from './support/ops-tools';

const ARTIFACTS = resolve(__dirname, '../../test-artifacts');
const SCREENSHOT = join(ARTIFACTS, 'admin-board.png');

/** The queue dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core. */
describe('queue dashboard in Chromium', () => {
  const world = useWorld('admin-board-browser', () => ({ ...TEST_ADMIN }));
  let browser: Browser;

  beforeAll(async () => {
    // We run as root in CI containers, where Chromium's sandbox cannot start.
    browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox'] });
    await runSteamJobs(world, 'admin-board-browser');
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('logs in, shows both Steam queues with their jobs, read-only, and saves screenshots', async () => {
    const context = await browser.newContext({
      httpCredentials: { username: TEST_ADMIN.ADMIN_USER, password: TEST_ADMIN.ADMIN_PASSWORD },
      viewport: { width: 1280, height: 800 },
    });
    try {
      const page = await context.newPage();
      const response = await page.goto(`${world.worker.url}/admin/queues`);
      expect(response?.status()).toBe(200);
      // The page is rendered by its script from the board's API: the queues appear once it has answered.
      await page.getByText('steam-requests-api').first().waitFor({ timeout: 20_000 });
      // The jobs of the task that ran are counted on each queue's card, once their counts came.
      await page
        .getByText(/[1-9]\d* Jobs?/)
        .first()
        .waitFor({ timeout: 20_000 });
      await expect(page.title()).resolves.toBe('steam-worker');
      const text = await page.locator('body').innerText();
      expect(text).toContain('steam-requests');
      expect(text).toContain('steam-requests-api');
      expect(text).toMatch(/[1-9]\d* Jobs?/);

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(statSync(SCREENSHOT).size).toBeGreaterThan(0);

      // Read-only: a queue's page lists its jobs but offers no action (a writable board shows "Clean all").
      await page.goto(`${world.worker.url}/admin/queues/queue/steam-requests?status=completed`);
      await page.getByText('appdetails').first().waitFor({ timeout: 20_000 });
      await page.screenshot({ path: join(ARTIFACTS, 'admin-board-queue.png'), fullPage: true });
      const actions = page.getByRole('button', { name: /clean|retry|remove|promote|pause|empty|add job|obliterate/i });
      expect(await actions.count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it.each([
    ['without credentials', undefined],
    ['with a wrong password', { username: TEST_ADMIN.ADMIN_USER, password: 'not-the-password' }],
  ])('shows nothing of the board %s: 401', async (_case, httpCredentials) => {
    const context = await browser.newContext({ httpCredentials });
    try {
      const page = await context.newPage();
      const answered = page.waitForResponse((response) => response.url().endsWith('/admin/queues'));
      const navigation = await page.goto(`${world.worker.url}/admin/queues`).catch((error: Error) => error);
      // Headless Chromium has no one to ask for credentials: without any it gives the
      // navigation up; with wrong ones (tried once) it shows the 401 answer.
      if (navigation instanceof Error) expect(navigation.message).toContain('ERR_INVALID_AUTH_CREDENTIALS');
      else expect(navigation?.status()).toBe(401);
      const response = await answered;
      expect(response.status()).toBe(401);
      expect(await response.headerValue('www-authenticate')).toBe('Basic realm="steam-worker"');
      expect(await response.text()).not.toContain('steam-requests');
    } finally {
      await context.close();
    }
  });
});
