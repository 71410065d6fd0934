import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import type { RecordedRequest } from '../support/http-stand-in';
import { waitFor } from '../support/rmq';
import { bodyOf, resultOf, ResultBody, sleep } from '../support/shapes';
import { SteamStandIn } from '../support/steam.stand-in';
import { taskFailed, useWorld } from '../support/vitest-world';
import { SHARED_REDIS_URL, WorkerFixture } from '../support/worker.harness';

const APP_LIST_PATH = '/IStoreService/GetAppList/v1/';
const INCLUDE_FLAGS = ['include_games', 'include_dlc', 'include_software', 'include_videos', 'include_hardware'];
const DAY_S = 86_400;

/** What `apps.changed.done` carries (docs/contract.md#results). */
interface ChangedDone {
  pattern: string;
  data: {
    taskId: string;
    since: number;
    until: number;
    apps: { appId: number; lastModified: number; priceChangeNumber: number }[];
    count: number;
  };
}

/** The stand-in Steam with a view of its GetAppList requests. */
class ChangesSteamStandIn extends SteamStandIn {
  appListRequestsSince(index: number): RecordedRequest[] {
    return this.requests.slice(index).filter((request) => request.url.pathname === APP_LIST_PATH);
  }

  /** Lists `apps` (appId → last_modified) and nothing else. */
  listing(apps: Record<number, number>): void {
    this.appList = Object.keys(apps).map(Number);
    this.lastModified = new Map(Object.entries(apps).map(([appId, at]) => [Number(appId), at]));
  }
}

const nowS = () => Math.floor(Date.now() / 1000);

describe('steam-worker listing the apps changed since a time (apps.changed)', () => {
  const steamApiKey = `steam-key-${randomUUID()}`;
  const steam = new ChangesSteamStandIn();
  steam.apiKey = steamApiKey;
  const keyed = useWorld('changed', () => ({ STEAM_MAX_ATTEMPTS: '2' }), { steam: () => steam });
  // A prefix of its own, where no apps.changed has completed yet.
  const fresh = useWorld('changed-fresh', undefined, { standIns: () => keyed.standIns });
  const keyless = useWorld('changed-keyless', () => ({ STEAM_API_KEY: '' }), { standIns: () => keyed.standIns });
  const redis = new Redis(SHARED_REDIS_URL);

  afterEach(() => {
    steam.pageSize = 50_000;
    steam.apiKey = steamApiKey;
  });
  afterAll(() => redis.disconnect());

  /** Publishes apps.changed and waits for its result. */
  async function changed(world: WorkerFixture, taskId: string, since?: number): Promise<ChangedDone> {
    world.publishTask('apps.changed', since === undefined ? { taskId } : { taskId, since });
    return (await world.resultOf(taskId)).body as ChangedDone;
  }

  /**
   * The watermark is raised right after the result's confirm; the orchestrator
   * may see the result a moment before that. Waits until it is there.
   */
  async function watermarkIs(world: WorkerFixture, until: number): Promise<void> {
    const key = `${world.names.REDIS_PREFIX}:apps-changed:watermark`;
    await waitFor(async () => (await redis.get(key)) === String(until), 10_000, `watermark ${until}`);
  }

  /** Waits for the task's dead letter, then returns its task.failed. */
  async function failureOf(world: WorkerFixture, taskId: string): Promise<ResultBody> {
    const failed = await world.resultOf(taskId);
    await resultOf(world.deadLetters, taskId, 20_000, `dead letter of ${taskId}`);
    return bodyOf(failed);
  }

  it('pages through GetAppList with if_modified_since, the key, every include flag and each last_appid', async () => {
    steam.listing({ 50: 1_700_000_500, 10: 1_700_000_100, 40: 1_700_000_400, 20: 1_700_000_200, 30: 1_700_000_300 });
    steam.lastModified.set(60, 1_600_000_000);
    steam.appList.push(60);
    steam.pageSize = 2;
    const since = steam.requests.length;

    const done = await changed(keyed, 'c-paged', 1_700_000_000);

    expect(done).toEqual({
      pattern: 'apps.changed.done',
      data: {
        taskId: 'c-paged',
        since: 1_700_000_000,
        until: 1_700_000_500,
        apps: [10, 20, 30, 40, 50].map((appId) => ({
          appId,
          lastModified: 1_700_000_000 + 10 * appId,
          priceChangeNumber: 37149137,
        })),
        count: 5,
      },
    });
    const requests = steam.appListRequestsSince(since);
    expect(requests.map(({ url }) => url.searchParams.get('last_appid'))).toEqual(['0', '20', '40']);
    for (const { url } of requests) {
      expect(url.searchParams.get('if_modified_since')).toBe('1700000000');
      expect(url.searchParams.get('key')).toBe(steam.apiKey);
      expect(url.searchParams.get('max_results')).toBe('50000');
      for (const flag of INCLUDE_FLAGS) expect(url.searchParams.get(flag), flag).toBe('true');
    }
  });

  it("continues without since from the previous task's until (the watermark)", async () => {
    await watermarkIs(keyed, 1_700_000_500);
    steam.listing({ 50: 1_700_000_500, 70: 1_700_000_900 });
    const since = steam.requests.length;

    const done = await changed(keyed, 'c-continue');

    expect(done.data).toMatchObject({ since: 1_700_000_500, until: 1_700_000_900, count: 2 });
    // The stand-in's filter is inclusive: the app at exactly the watermark comes again, which is harmless.
    expect(done.data.apps.map((app) => app.appId)).toEqual([50, 70]);
    expect(steam.appListRequestsSince(since)[0]!.url.searchParams.get('if_modified_since')).toBe('1700000500');
  });

  it('never moves the watermark back when a task with an earlier until completes', async () => {
    await watermarkIs(keyed, 1_700_000_900);
    steam.listing({ 80: 1_650_000_000 });
    expect((await changed(keyed, 'c-earlier', 1_600_000_000)).data.until).toBe(1_650_000_000);
    // Its watermark offer follows the result's confirm within milliseconds, and is refused.
    await sleep(1_000);

    steam.listing({});
    const done = await changed(keyed, 'c-after-earlier');

    expect(done.data).toEqual({
      taskId: 'c-after-earlier',
      since: 1_700_000_900,
      until: 1_700_000_900,
      apps: [],
      count: 0,
    });
  });

  it('answers until = since when nothing changed', async () => {
    steam.listing({ 10: 1_500_000_000 });
    const done = await changed(keyed, 'c-nothing', 1_600_000_000);
    expect(done.data).toEqual({ taskId: 'c-nothing', since: 1_600_000_000, until: 1_600_000_000, apps: [], count: 0 });
  });

  it('looks 24 hours back when no apps.changed has completed under its REDIS_PREFIX', async () => {
    const now = nowS();
    steam.listing({ 10: now - DAY_S - 600, 20: now - 3_600, 30: now - 60 });
    const since = steam.requests.length;
    const before = nowS();

    const done = await changed(fresh, 'c-first');

    expect(done.data.since).toBeGreaterThanOrEqual(before - DAY_S);
    expect(done.data.since).toBeLessThanOrEqual(nowS() - DAY_S);
    expect(done.data).toMatchObject({ until: now - 60, count: 2 });
    expect(done.data.apps.map((app) => app.appId)).toEqual([20, 30]);
    expect(steam.appListRequestsSince(since)[0]!.url.searchParams.get('if_modified_since')).toBe(
      String(done.data.since),
    );
  });

  it.each([
    ['negative', -1],
    ['a fraction', 1.5],
    ['a string', '1700000000'],
  ])('dead-letters a since that is %s as invalid_task, without a Steam request', async (_what, since) => {
    const taskId = `c-invalid-${String(since)}`;
    const before = steam.requests.length;
    keyed.publishTask('apps.changed', { taskId, since });

    const failure = await failureOf(keyed, taskId);

    expect(failure).toEqual(taskFailed(taskId, 'apps.changed', 'invalid_task'));
    expect(failure.data.error!.message).toContain('since');
    expect(steam.appListRequestsSince(before)).toEqual([]);
  });

  it('fails not_configured without STEAM_API_KEY, without a Steam request', async () => {
    const before = steam.requests.length;
    keyless.publishTask('apps.changed', { taskId: 'c-keyless', since: 1 });

    const failure = await failureOf(keyless, 'c-keyless');

    expect(failure).toEqual(taskFailed('c-keyless', 'apps.changed', 'not_configured'));
    expect(failure.data.error!.message).toContain('STEAM_API_KEY');
    expect(steam.appListRequestsSince(before)).toEqual([]);
  });

  it('fails not_configured when Steam refuses the key with 403, and leaves the watermark alone', async () => {
    await watermarkIs(keyed, 1_700_000_900);
    steam.apiKey = 'a-key-the-worker-does-not-have';
    const before = steam.requests.length;
    keyed.publishTask('apps.changed', { taskId: 'c-refused' });

    const failure = await failureOf(keyed, 'c-refused');

    expect(failure).toEqual(taskFailed('c-refused', 'apps.changed', 'not_configured'));
    expect(steam.appListRequestsSince(before)).toHaveLength(1);
    expect(await redis.get(`${keyed.names.REDIS_PREFIX}:apps-changed:watermark`)).toBe('1700000900');
  });

  it('never puts the Steam key into a result or a dead letter', () => {
    const everything = [keyed, fresh, keyless].flatMap((world) => [...world.results, ...world.deadLetters]);
    expect(everything).not.toHaveLength(0);
    for (const message of everything) {
      expect(message.raw.content.toString('utf8')).not.toContain(steamApiKey);
    }
  });
});
