import { ConsoleLogger, Logger } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import type { ScheduleConfig } from '../config/schedules';
import type { WorkerConfig } from '../config/worker-config';
import { TaskNotConfirmedError, TaskNotQueuedError } from '../rabbit/rabbit.errors';
import type { TaskPublisher } from '../rabbit/task.publisher';
import type { ScheduleClaims } from './schedule.claims';
import { TaskScheduler } from './task.scheduler';

const START = Date.UTC(2026, 10, 29, 12, 0, 30);
const MINUTE = 60_000;
const EVERY_MINUTE: ScheduleConfig = {
  name: 'minutely',
  cron: '* * * * *',
  pattern: 'apps.fetch',
  data: { appIds: [620], countries: ['US'], taskId: 'replaced' },
};

/** A scheduler whose claims and publisher are stubs; `claim` answers whether this process gets a tick. */
function world(
  options: { claim?: () => Promise<boolean>; publish?: () => Promise<void>; schedules?: ScheduleConfig[] } = {},
) {
  const published: { pattern: string; data: object }[] = [];
  const claimed: string[] = [];
  const claims = {
    claim: vi.fn(async (name: string, tickMs: number) => {
      claimed.push(`${name}@${new Date(tickMs).toISOString()}`);
      return options.claim ? options.claim() : true;
    }),
  };
  const publisher = {
    publishTask: vi.fn(async (pattern: string, data: object) => {
      await options.publish?.();
      published.push({ pattern, data });
    }),
  };
  const config = { schedules: options.schedules ?? [EVERY_MINUTE] } as unknown as WorkerConfig;
  const scheduler = new TaskScheduler(
    config,
    claims as unknown as ScheduleClaims,
    publisher as unknown as TaskPublisher,
  );
  return { scheduler, published, claimed, claims, publisher };
}

describe(TaskScheduler.name, () => {
  let stop: (() => Promise<void>) | undefined;
  beforeAll(() => Logger.overrideLogger(new ConsoleLogger({ logLevels: [] })));
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));
  beforeEach(() => vi.useFakeTimers({ now: START, toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
  afterEach(async () => {
    await stop?.();
    stop = undefined;
    vi.useRealTimers();
  });

  function started(options?: Parameters<typeof world>[0]) {
    const w = world(options);
    w.scheduler.onApplicationBootstrap();
    stop = () => w.scheduler.onModuleDestroy();
    return w;
  }

  it('publishes {pattern, data: {...data, taskId: <name>@<tick>}} at the tick, not before', async () => {
    const { published } = started();

    await vi.advanceTimersByTimeAsync(29_000);
    expect(published).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);

    expect(published).toEqual([
      {
        pattern: 'apps.fetch',
        data: { appIds: [620], countries: ['US'], taskId: 'minutely@2026-11-29T12:01:00Z' },
      },
    ]);
  });

  it('skips the tick it started after: ticks that passed are not caught up', async () => {
    const { claimed } = started();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(claimed).toEqual(['minutely@2026-11-29T12:01:00.000Z']);
  });

  it('publishes once per tick, tick after tick', async () => {
    const { published } = started();

    await vi.advanceTimersByTimeAsync(30_000 + 2 * MINUTE);

    expect(published.map(({ data }) => (data as { taskId: string }).taskId)).toEqual([
      'minutely@2026-11-29T12:01:00Z',
      'minutely@2026-11-29T12:02:00Z',
      'minutely@2026-11-29T12:03:00Z',
    ]);
  });

  it('publishes nothing for a tick that another process claimed', async () => {
    const { published, claimed } = started({ claim: async () => false });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(claimed).toHaveLength(1);
    expect(published).toEqual([]);
  });

  it('asks for the claim again while Redis fails, and publishes once it answers', async () => {
    let failures = 2;
    const { published, claims } = started({
      claim: async () => {
        if (failures-- > 0) throw new Error('Redis away');
        return true;
      },
    });

    await vi.advanceTimersByTimeAsync(30_000 + 2_500);

    expect(claims.claim).toHaveBeenCalledTimes(3);
    expect(published).toHaveLength(1);
  });

  it('publishes again a task that is certainly not in the queue', async () => {
    let returned = 1;
    const { published, publisher } = started({
      publish: async () => {
        if (returned-- > 0) throw new TaskNotQueuedError('returned');
      },
    });

    await vi.advanceTimersByTimeAsync(30_000 + 1_500);

    expect(publisher.publishTask).toHaveBeenCalledTimes(2);
    expect(published).toHaveLength(1);
  });

  it('never publishes again a task whose confirm did not come: it may be in the queue', async () => {
    const { publisher } = started({
      publish: async () => {
        throw new TaskNotConfirmedError('no confirm');
      },
    });

    await vi.advanceTimersByTimeAsync(30_000 + 10_000);

    expect(publisher.publishTask).toHaveBeenCalledTimes(1);
  });

  it('skips a tick it wakes up to more than 5 minutes late (the process was suspended)', async () => {
    const { claimed } = started();
    vi.setSystemTime(START + 30_000 + 6 * MINUTE);

    await vi.advanceTimersToNextTimerAsync();

    expect(claimed).toEqual([]);
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(claimed).toEqual(['minutely@2026-11-29T12:08:00.000Z']);
  });

  it('publishes nothing after it was stopped', async () => {
    const { scheduler, claimed } = started();
    await scheduler.onModuleDestroy();
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    expect(claimed).toEqual([]);
  });

  it('reaches a tick hours away through timers of at most a minute, and claims it at its time', async () => {
    const timeouts = vi.spyOn(globalThis, 'setTimeout');
    const { claimed } = started({ schedules: [{ ...EVERY_MINUTE, name: 'daily', cron: '5 18 * * *' }] });

    await vi.advanceTimersByTimeAsync(Date.UTC(2026, 10, 29, 18, 5) - Date.now() - 1);
    expect(claimed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);

    expect(claimed).toEqual(['daily@2026-11-29T18:05:00.000Z']);
    const delays = timeouts.mock.calls.map(([, delay]) => delay ?? 0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(MINUTE);
    timeouts.mockRestore();
  });
});
