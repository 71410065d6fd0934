import { ConsoleLogger, Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import type { WorkerConfig } from '../../config/worker-config';
import { SteamKeyRefusedError, SteamTransientError } from '../../steam/steam.errors';
import type { AppChangesPage, AppChangesPageRequest } from '../../steam/steam-request';
import type { SteamRequestQueue } from '../../steam/steam-request.queue';
import type { ChangeWatermarkStore } from '../changes/change-watermark.store';
import { TaskFailedError } from '../task.errors';
import type { TaskRun } from '../task.runner';
import { AppsChangedUseCase } from './apps-changed.use-case';

const NOW_MS = Date.UTC(2026, 10, 29, 12, 0, 0);
const NOW_S = NOW_MS / 1000;

/** The use case with a stub Steam answering `pages` by cursor, and a stub watermark. */
function world(pages: Record<number, AppChangesPage | Error>, options: { apiKey?: string; watermark?: number } = {}) {
  const asked: AppChangesPageRequest[] = [];
  const steam = {
    request: vi.fn(async (request: AppChangesPageRequest) => {
      asked.push(request);
      const page = pages[request.lastAppId] ?? { apps: [] };
      if (page instanceof Error) throw page;
      return page;
    }),
  };
  const offered: number[] = [];
  const watermark = {
    current: vi.fn(async () => options.watermark),
    offer: vi.fn(async (until: number) => void offered.push(until)),
  };
  const config = { steam: { apiKey: 'apiKey' in options ? options.apiKey : 'key' } } as WorkerConfig;
  const useCase = new AppsChangedUseCase(
    steam as unknown as SteamRequestQueue,
    watermark as unknown as ChangeWatermarkStore,
    config,
  );
  return { useCase, asked, offered, watermark };
}

const run = (): TaskRun => ({
  taskId: 'c-1',
  signal: new AbortController().signal,
  resumable: true,
  progressed: () => undefined,
  pairFailed: () => undefined,
});
const changed = (appId: number, lastModified: number, priceChangeNumber = 1) => ({
  appId,
  lastModified,
  priceChangeNumber,
});

describe(AppsChangedUseCase.name, () => {
  beforeAll(() => {
    vi.useFakeTimers({ now: NOW_MS, toFake: ['Date'] });
    Logger.overrideLogger(new ConsoleLogger({ logLevels: [] }));
  });
  afterAll(() => {
    vi.useRealTimers();
    Logger.overrideLogger(new ConsoleLogger());
  });

  it('pages on from each last_appid with the same if_modified_since, and sorts the apps by appId', async () => {
    const { useCase, asked } = world({
      0: { apps: [changed(30, 1_200), changed(10, 1_100)], nextAppId: 30 },
      30: { apps: [changed(20, 1_300)] },
    });

    const result = await useCase.execute({ since: 1_000 }, run());

    expect(asked).toEqual([
      { kind: 'appchanges', lastAppId: 0, ifModifiedSince: 1_000 },
      { kind: 'appchanges', lastAppId: 30, ifModifiedSince: 1_000 },
    ]);
    expect(result).toEqual({
      since: 1_000,
      until: 1_300,
      apps: [changed(10, 1_100), changed(20, 1_300), changed(30, 1_200)],
      count: 3,
    });
  });

  it('lists an app that two pages name once, at its latest change', async () => {
    const { useCase } = world({
      0: { apps: [changed(10, 1_100, 5)], nextAppId: 10 },
      10: { apps: [changed(10, 1_400, 6)] },
    });

    expect((await useCase.execute({ since: 1_000 }, run())).apps).toEqual([changed(10, 1_400, 6)]);
  });

  it('stops at a cursor that does not move forward', async () => {
    const { useCase, asked } = world({ 0: { apps: [changed(10, 1_100)], nextAppId: 0 } });

    await useCase.execute({ since: 1_000 }, run());

    expect(asked).toHaveLength(1);
  });

  it('answers until = since when nothing changed', async () => {
    const { useCase } = world({});
    expect(await useCase.execute({ since: 1_000 }, run())).toEqual({ since: 1_000, until: 1_000, apps: [], count: 0 });
  });

  it('starts from the watermark without since, and 24 hours back without either', async () => {
    const marked = world({}, { watermark: 1_777_000_000 });
    expect((await marked.useCase.execute({}, run())).since).toBe(1_777_000_000);
    expect(marked.asked[0]!.ifModifiedSince).toBe(1_777_000_000);

    const fresh = world({});
    expect((await fresh.useCase.execute({}, run())).since).toBe(NOW_S - 86_400);
  });

  it('does not read the watermark when since is given', async () => {
    const { useCase, watermark } = world({}, { watermark: 5 });
    await useCase.execute({ since: 0 }, run());
    expect(watermark.current).not.toHaveBeenCalled();
  });

  it("offers the watermark the result's until only once the task completed", async () => {
    const { useCase, offered } = world({ 0: { apps: [changed(10, 1_500)] } });
    const result = await useCase.execute({ since: 1_000 }, run());
    expect(offered).toEqual([]);

    await useCase.completed(result);

    expect(offered).toEqual([1_500]);
  });

  it('fails not_configured without STEAM_API_KEY, before any Steam request', async () => {
    const { useCase, asked } = world({}, { apiKey: undefined });
    await expect(useCase.execute({ since: 1 }, run())).rejects.toMatchObject({ code: 'not_configured' });
    expect(asked).toEqual([]);
  });

  it.each([
    ['a refused key', new SteamKeyRefusedError('403'), 'not_configured'],
    ['Steam failing after its retries', new SteamTransientError('500'), 'steam_error'],
  ])('fails the task as a whole on %s', async (_what, failure, code) => {
    const { useCase } = world({ 0: { apps: [], nextAppId: 5 }, 5: failure });
    const error: unknown = await useCase.execute({ since: 1 }, run()).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error).toMatchObject({ code });
  });
});
