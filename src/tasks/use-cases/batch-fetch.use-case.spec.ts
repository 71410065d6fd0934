import { ConsoleLogger, Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { fakeProgressReporters } from '../../../test/support/fake-progress-reporters';
import type { BackendCircuit } from '../../backend/backend.circuit';
import type { AppCountryRecord, BackendClient } from '../../backend/backend.client';
import { BackendError } from '../../backend/backend.errors';
import type { WorkerConfig } from '../../config/worker-config';
import { SteamPermanentError, SteamTransientError } from '../../steam/steam.errors';
import type { AppDetailsRequest } from '../../steam/steam-request';
import type { SteamRequestQueue } from '../../steam/steam-request.queue';
import type { ProgressReporterFactory } from '../progress/progress-reporter.factory';
import type { TaskProgressStore } from '../progress/task-progress.store';
import type { TaskRun } from '../task.runner';
import { BatchFetchUseCase } from './batch-fetch.use-case';

type Pair = `${number}/${string}`;

/** The use case with stub clients: Steam and the backend answer per pair from the test's tables. */
function world(
  options: {
    steamFails?: Partial<Record<Pair, Error>>;
    backendFails?: Partial<Record<Pair, Error>>;
    acceptedBefore?: Pair[];
    fetchAllowed?: boolean;
  } = {},
) {
  const asked: Pair[] = [];
  const pushed: AppCountryRecord[] = [];
  const accepted: number[] = [];
  const steam = {
    request: vi.fn(async ({ appId, country }: AppDetailsRequest) => {
      asked.push(`${appId}/${country}`);
      const failure = options.steamFails?.[`${appId}/${country}`];
      if (failure) throw failure;
      return { available: true, details: { steam_appid: appId } };
    }),
  };
  const backend = {
    push: vi.fn(async (record: AppCountryRecord) => {
      const failure = options.backendFails?.[`${record.appId}/${record.country}`];
      if (failure) throw failure;
      pushed.push(record);
    }),
  };
  let shape: { appIds: readonly number[]; countries: readonly string[] } | undefined;
  const progressStore = {
    open: vi.fn(async (_taskId: string, appIds: readonly number[], countries: readonly string[]) => {
      shape = { appIds, countries };
      const before = new Set(
        (options.acceptedBefore ?? []).map((pair) => {
          const [appId, country] = pair.split('/');
          return appIds.indexOf(Number(appId)) * countries.length + countries.indexOf(country!);
        }),
      );
      return {
        acceptedBefore: before.size,
        wasAccepted: (index: number) => before.has(index),
        markAccepted: async (index: number) => void accepted.push(index),
      };
    }),
  };
  const circuit = {
    whenFetchAllowed: async () => options.fetchAllowed ?? true,
    openSignal: new AbortController().signal,
    recordSuccess: vi.fn(),
    recordFailure: vi.fn(),
  };
  const { reported, reporters } = fakeProgressReporters();
  const config = { tasks: { maxBatchApps: 100 }, steam: { feedWindow: 4 } } as WorkerConfig;
  const useCase = new BatchFetchUseCase(
    steam as unknown as SteamRequestQueue,
    backend as unknown as BackendClient,
    progressStore as unknown as TaskProgressStore,
    circuit as unknown as BackendCircuit,
    config,
    reporters as unknown as ProgressReporterFactory,
  );
  const acceptedPairs = () =>
    accepted.map(
      (index) =>
        `${shape!.appIds[Math.floor(index / shape!.countries.length)]}/${shape!.countries[index % shape!.countries.length]}`,
    );
  return { useCase, asked, pushed, acceptedPairs, circuit, backend, progressStore, reporters, reported };
}

function run(overrides: Partial<TaskRun> = {}): TaskRun {
  const signal = new AbortController().signal;
  return { taskId: 't-1', signal, resumable: true, progressed: vi.fn(), pairFailed: vi.fn(), ...overrides };
}

describe(BatchFetchUseCase.name, () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));

  it('fetches and pushes every (app, country) pair once and reports every app updated, sorted', async () => {
    const { useCase, asked, pushed } = world();

    const result = await useCase.execute({ appIds: [30, 10, 20, 10], countries: ['US', 'DE', 'US'] }, run());

    expect(result).toEqual({ updated: [10, 20, 30], failed: [] });
    expect(asked.sort()).toEqual(['10/DE', '10/US', '20/DE', '20/US', '30/DE', '30/US']);
    expect(pushed).toHaveLength(6);
    expect(pushed[0]).toMatchObject({ available: true, details: { steam_appid: pushed[0]!.appId } });
  });

  it('fails an app in the countries Steam kept failing, and only those', async () => {
    const { useCase } = world({ steamFails: { '20/DE': new SteamTransientError('503 (after 5 attempts)') } });

    const result = await useCase.execute({ appIds: [10, 20], countries: ['DE', 'US'] }, run());

    expect(result).toEqual({ updated: [10], failed: [{ appId: 20, countries: ['DE'], reason: 'steam_error' }] });
  });

  it('reports what the backend said of a pair it did not accept', async () => {
    const { useCase, circuit } = world({
      backendFails: {
        '10/US': BackendError.rejected('Backend rejected the record with 422'),
        '20/US': BackendError.transient('Backend answered 503'),
      },
    });

    const result = await useCase.execute({ appIds: [10, 20, 30], countries: ['US'] }, run());

    expect(result.failed).toEqual([
      { appId: 10, countries: ['US'], reason: 'backend_rejected' },
      { appId: 20, countries: ['US'], reason: 'backend_error' },
    ]);
    expect(circuit.recordFailure).toHaveBeenCalledTimes(2);
    expect(circuit.recordSuccess).toHaveBeenCalledTimes(1);
  });

  it('skips the pairs accepted in an earlier delivery, yet reports every app', async () => {
    const { useCase, asked } = world({ acceptedBefore: ['10/DE', '10/US', '20/DE'] });

    const result = await useCase.execute({ appIds: [10, 20], countries: ['DE', 'US'] }, run());

    expect(asked).toEqual(['20/US']);
    expect(result).toEqual({ updated: [10, 20], failed: [] });
  });

  it('records each accepted pair and tells the runner it got somewhere', async () => {
    const { useCase, acceptedPairs } = world({ steamFails: { '10/US': new SteamPermanentError('400') } });
    const progressed = vi.fn();

    await useCase.execute({ appIds: [10, 20], countries: ['US'] }, run({ progressed }));

    expect(acceptedPairs()).toEqual(['20/US']);
    expect(progressed).toHaveBeenCalledTimes(1);
  });

  it('feeds task progress every settled pair, counting those accepted before, and stops it before the result', async () => {
    const { useCase, reporters, reported } = world({
      acceptedBefore: ['10/DE'],
      steamFails: { '20/DE': new SteamPermanentError('400') },
    });

    await useCase.execute({ appIds: [20, 10], countries: ['US', 'DE'] }, run());

    expect(reporters.start).toHaveBeenCalledWith(expect.anything(), 'apps.fetch', 4, 1);
    expect(reported).toEqual({ accepted: 2, failed: 1, stopped: 1 });
  });

  it('stops task progress when the task fails as a whole', async () => {
    const { useCase, reported } = world({ steamFails: { '20/US': new Error('Connection is closed.') } });

    await expect(useCase.execute({ appIds: [10, 20, 30], countries: ['US'] }, run())).rejects.toThrow();
    expect(reported.stopped).toBe(1);
  });

  it('tells the runner of each pair of this delivery as it settles: accepted, or failed and why', async () => {
    const { useCase } = world({
      acceptedBefore: ['30/US'],
      steamFails: { '10/DE': new SteamPermanentError('400') },
      backendFails: { '20/US': BackendError.rejected('Backend rejected the record with 422') },
    });
    const [progressed, pairFailed] = [vi.fn(), vi.fn()];

    await useCase.execute({ appIds: [10, 20, 30], countries: ['DE', 'US'] }, run({ progressed, pairFailed }));

    expect(progressed).toHaveBeenCalledTimes(3);
    expect(pairFailed.mock.calls.map(([reason]: unknown[]) => reason).sort()).toEqual([
      'backend_rejected',
      'steam_error',
    ]);
  });

  it('keeps no progress for a task that cannot resume', async () => {
    const { useCase, progressStore } = world();

    const result = await useCase.execute({ appIds: [10], countries: ['US'] }, run({ resumable: false }));

    expect(result.updated).toEqual([10]);
    expect(progressStore.open).not.toHaveBeenCalled();
  });

  it('fails the whole task, not a pair, when something other than Steam fails (Redis gone)', async () => {
    const { useCase } = world({ steamFails: { '20/US': new Error('Connection is closed.') } });

    await expect(useCase.execute({ appIds: [10, 20, 30], countries: ['US'] }, run())).rejects.toThrow(
      'Connection is closed.',
    );
  });

  it('stops when its task is stopped, with the reason, after the pushes already sent', async () => {
    const stop = new AbortController();
    const { useCase, backend, asked } = world();
    backend.push.mockImplementation(async (record: AppCountryRecord) => {
      if (record.appId === 2) stop.abort(new Error('channel lost'));
    });

    await expect(
      useCase.execute(
        { appIds: Array.from({ length: 50 }, (_, i) => i + 1), countries: ['US'] },
        run({ signal: stop.signal }),
      ),
    ).rejects.toThrow('channel lost');
    expect(asked.length).toBeLessThan(50);
  });

  it('fails pairs backend_error without asking Steam while the backend circuit has given up', async () => {
    const { useCase, asked } = world({ fetchAllowed: false });

    const result = await useCase.execute({ appIds: [10, 20], countries: ['US'] }, run());

    expect(asked).toEqual([]);
    expect(result.failed.map((failure) => failure.reason)).toEqual(['backend_error', 'backend_error']);
  });

  it('refuses more apps than MAX_BATCH_APPS as an invalid task', async () => {
    const { useCase } = world();

    await expect(
      useCase.execute({ appIds: Array.from({ length: 101 }, (_, i) => i + 1), countries: ['US'] }, run()),
    ).rejects.toMatchObject({ code: 'invalid_task' });
  });
});
