import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';

import type { RecordedRequest, Reply } from '../support/http-stand-in';
import { bodyOf, resultOf, ResultBody } from '../support/shapes';
import { SteamStandIn } from '../support/steam.stand-in';
import { taskFailed, useWorld } from '../support/vitest-world';
import type { WorkerFixture } from '../support/worker.harness';

const APP_LIST_PATH = '/IStoreService/GetAppList/v1/';
const INCLUDE_FLAGS = ['include_games', 'include_dlc', 'include_software', 'include_videos', 'include_hardware'];
const STEAM_MAX_ATTEMPTS = 3;

/** The Steam stand-in, with a hook to override GetAppList answers. */
class AppListSteamStandIn extends SteamStandIn {
  appListScript?: (request: RecordedRequest) => Reply | undefined;

  get appListRequests(): RecordedRequest[] {
    return this.requests.filter((request) => request.url.pathname === APP_LIST_PATH);
  }

  protected override handle(request: RecordedRequest): Reply {
    const scripted = request.url.pathname === APP_LIST_PATH ? this.appListScript?.(request) : undefined;
    return scripted ?? super.handle(request);
  }
}

describe('steam-worker listing the Steam apps', () => {
  const steamApiKey = `steam-key-${randomUUID()}`;
  const steam = new AppListSteamStandIn();
  steam.apiKey = steamApiKey;
  // Two workers on queues and Redis prefixes of their own, sharing the stand-ins.
  const keyed = useWorld('app-list', () => ({ STEAM_MAX_ATTEMPTS: String(STEAM_MAX_ATTEMPTS) }), {
    steam: () => steam,
  });
  const keyless = useWorld('app-list-keyless', () => ({ STEAM_API_KEY: '' }), { standIns: () => keyed.standIns });

  afterEach(() => {
    steam.appListScript = undefined;
    steam.apiKey = steamApiKey;
    steam.pageSize = 50_000;
  });

  /** Waits for the task's dead letter, then returns its task.failed. */
  async function failureOf(worker: WorkerFixture, taskId: string): Promise<ResultBody> {
    const failed = await worker.resultOf(taskId);
    await resultOf(worker.deadLetters, taskId, 20_000, `dead letter of ${taskId}`);
    return bodyOf(failed);
  }

  it('pages through GetAppList with the key, every include flag and the previous page’s last_appid', async () => {
    steam.appList = [50, 10, 40, 20, 30];
    steam.pageSize = 2;
    const since = steam.appListRequests.length;
    keyed.publish({ pattern: 'apps.list', data: { taskId: 'l-paged' } });

    const result = await keyed.resultOf('l-paged');

    expect(result.body).toEqual({
      pattern: 'apps.list.done',
      data: { taskId: 'l-paged', appIds: [10, 20, 30, 40, 50], count: 5 },
    });
    const requests = steam.appListRequests.slice(since);
    expect(requests.map((request) => request.url.searchParams.get('last_appid'))).toEqual(['0', '20', '40']);
    for (const { url } of requests) {
      expect(url.searchParams.get('key')).toBe(steamApiKey);
      expect(url.searchParams.get('max_results')).toBe('50000');
      for (const flag of INCLUDE_FLAGS) expect(url.searchParams.get(flag), flag).toBe('true');
    }
  });

  it('sorts the app ids and removes duplicates across pages, and stops at the page without have_more_results', async () => {
    const pages: Record<string, object> = {
      '0': { apps: [300, 100, 200].map(app), have_more_results: true, last_appid: 300 },
      '300': { apps: [500, 200, 400, 500].map(app), have_more_results: true, last_appid: 500 },
      '500': { apps: [600, 150].map(app) },
    };
    steam.appListScript = (request) => {
      const page = pages[request.url.searchParams.get('last_appid') ?? ''];
      return { status: 200, body: { response: page ?? { apps: [] } } };
    };
    const since = steam.appListRequests.length;
    keyed.publish({ pattern: 'apps.list', data: { taskId: 'l-dedup' } });

    const result = await keyed.resultOf('l-dedup');

    expect(result.body).toEqual({
      pattern: 'apps.list.done',
      data: { taskId: 'l-dedup', appIds: [100, 150, 200, 300, 400, 500, 600], count: 7 },
    });
    expect(steam.appListRequests.slice(since).map((request) => request.url.searchParams.get('last_appid'))).toEqual([
      '0',
      '300',
      '500',
    ]);
  });

  it('fails apps.list with not_configured, without calling Steam, when STEAM_API_KEY is not set', async () => {
    const since = steam.appListRequests.length;
    keyless.publish({ pattern: 'apps.list', data: { taskId: 'l-keyless' } });

    const failure = await failureOf(keyless, 'l-keyless');

    expect(failure).toEqual(taskFailed('l-keyless', 'apps.list', 'not_configured'));
    expect(failure.data.error!.message).toContain('STEAM_API_KEY');
    expect(steam.appListRequests.slice(since)).toEqual([]);
  });

  it('still fetches apps on a worker without STEAM_API_KEY', async () => {
    keyless.publish({ pattern: 'app.fetch', data: { taskId: 'l-keyless-fetch', appId: 621, country: 'US' } });

    const result = await keyless.resultOf('l-keyless-fetch');

    expect(result.body).toEqual({
      pattern: 'app.fetch.done',
      data: { taskId: 'l-keyless-fetch', updated: [621], failed: [] },
    });
  });

  it('fails apps.list with not_configured after one request when Steam refuses the key with 403', async () => {
    steam.apiKey = 'the-key-steam-knows';
    const since = steam.appListRequests.length;
    keyed.publish({ pattern: 'apps.list', data: { taskId: 'l-wrong-key' } });

    const failure = await failureOf(keyed, 'l-wrong-key');

    expect(failure).toEqual(taskFailed('l-wrong-key', 'apps.list', 'not_configured'));
    expect(failure.data.error!.message).toContain('STEAM_API_KEY');
    expect(steam.appListRequests.slice(since)).toHaveLength(1);
  });

  it('fails apps.list with steam_error after STEAM_MAX_ATTEMPTS requests when GetAppList keeps answering 500', async () => {
    steam.appListScript = () => ({ status: 500, body: { error: 'internal' } });
    const since = steam.appListRequests.length;
    keyed.publish({ pattern: 'apps.list', data: { taskId: 'l-500' } });

    const failure = await failureOf(keyed, 'l-500');

    expect(failure).toEqual(taskFailed('l-500', 'apps.list', 'steam_error'));
    expect(steam.appListRequests.slice(since)).toHaveLength(STEAM_MAX_ATTEMPTS);
  });

  it('fails apps.list with steam_error when a later page keeps failing', async () => {
    steam.appListScript = (request) =>
      request.url.searchParams.get('last_appid') === '0'
        ? { status: 200, body: { response: { apps: [app(10)], have_more_results: true, last_appid: 10 } } }
        : { status: 200, text: '', reset: true };
    const since = steam.appListRequests.length;
    keyed.publish({ pattern: 'apps.list', data: { taskId: 'l-reset' } });

    const failure = await failureOf(keyed, 'l-reset');

    expect(failure).toEqual(taskFailed('l-reset', 'apps.list', 'steam_error'));
    expect(steam.appListRequests.slice(since)).toHaveLength(1 + STEAM_MAX_ATTEMPTS);
  });

  it('never puts the Steam key into a result or a dead letter', () => {
    const everything = [keyed, keyless].flatMap((worker) => [...worker.results, ...worker.deadLetters]);
    expect(everything).not.toHaveLength(0);
    for (const message of everything) {
      const text = message.raw.content.toString('utf8') + JSON.stringify(message.raw.properties);
      expect(text).not.toContain(steamApiKey);
    }
  });
});

function app(appid: number) {
  return { appid, name: `App ${appid}`, last_modified: 1745368572, price_change_number: 37149137 };
}
