import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { range, sleep } from '../support/shapes';
import { appDetailsEntry } from '../support/steam.stand-in';
import { SHARED_REDIS_URL, WorkerFixture } from '../support/worker.harness';
import { useWorld } from '../support/vitest-world';

/**
 * How a batch flows (docs/contract.md#push, and STEAM_FEED_WINDOW in
 * docs/contract.md#configuration): pushes overlap with the fetches still to come, and only a
 * window of the batch's pairs is ever queued for Steam in Redis.
 */

/** The body of the result of `taskId` (a batch under a tight limit takes a while). */
const resultOf = async (world: WorkerFixture, taskId: string) => (await world.resultOf(taskId, 40_000)).body;

describe('a batch fetched under a tight Steam rate limit', () => {
  // Steam requests leave about 100 ms apart; the feed window stays at its default.
  const world = useWorld('batch-overlap', () => ({
    STEAM_RATE_LIMIT: '10',
    STEAM_RATE_WINDOW_MS: '1000',
  }));

  it('pushes the first pairs to the backend before the last pair is requested from Steam', async () => {
    const appIds = range(2001, 5);
    world.publishTask('apps.fetch', {
      taskId: 't-overlap',
      appIds,
      countries: ['DE', 'SE'],
    });

    expect(await resultOf(world, 't-overlap')).toEqual({
      pattern: 'apps.fetch.done',
      data: { taskId: 't-overlap', updated: appIds, failed: [] },
    });
    const steamArrivals = world.standIns.steam.appDetailsRequests.map((request) => request.at);
    const pushArrivals = world.standIns.backend.requests
      .filter((request) => request.method === 'PUT')
      .map((request) => request.at);
    expect(steamArrivals).toHaveLength(10);
    expect(pushArrivals).toHaveLength(10);
    expect(Math.min(...pushArrivals)).toBeLessThan(Math.max(...steamArrivals));
  });
});

describe('a batch larger than STEAM_FEED_WINDOW', () => {
  const FEED_WINDOW = 4;
  const world = useWorld('batch-window', () => ({
    STEAM_FEED_WINDOW: String(FEED_WINDOW),
  }));
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    redis?.disconnect();
  });

  it('never has more than STEAM_FEED_WINDOW of its Steam requests waiting, active or delayed in Redis', async () => {
    const queueKey = `${world.names.REDIS_PREFIX}:steam-requests`;
    // A slow Steam: each answer takes 40 ms, so the batch's jobs would pile up if nothing bounded them.
    world.standIns.steam.script = ({ appId, country }) => ({
      status: 200,
      body: { [appId]: appDetailsEntry(appId, country) },
      delayMs: 40,
    });

    const samples: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const replies = await redis
          .multi()
          .llen(`${queueKey}:wait`)
          .llen(`${queueKey}:active`)
          .zcard(`${queueKey}:delayed`)
          .exec();
        samples.push(replies!.reduce((sum, [, count]) => sum + Number(count), 0));
        await sleep(20);
      }
    })();

    const appIds = range(3001, 10);
    world.publishTask('apps.fetch', {
      taskId: 't-window',
      appIds,
      countries: ['DE', 'FR', 'IT', 'ES'],
    });
    try {
      expect(await resultOf(world, 't-window')).toEqual({
        pattern: 'apps.fetch.done',
        data: { taskId: 't-window', updated: appIds, failed: [] },
      });
    } finally {
      sampling = false;
      await sampler;
    }
    expect(world.standIns.steam.appDetailsRequests).toHaveLength(40);
    expect(world.standIns.backend.stored.size).toBe(40);
    // The sampler did see the batch's jobs (right keys), and never more than the window.
    expect(Math.max(...samples)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...samples)).toBeLessThanOrEqual(FEED_WINDOW);
  });
});
