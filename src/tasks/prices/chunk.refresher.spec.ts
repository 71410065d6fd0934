import { describe, expect, it, vi } from 'vitest';

import type { BackendCircuit } from '../../backend/backend.circuit';
import type { AppCountryPriceRecord, BackendClient } from '../../backend/backend.client';
import { BackendError } from '../../backend/backend.errors';
import { SteamBadRequestError, SteamRequestCancelledError, SteamTransientError } from '../../steam/steam.errors';
import type { PriceQuote } from '../../steam/steam-request';
import type { TaskRun } from '../task.runner';
import { BatchReport } from '../use-cases/batch.report';
import { ChunkRefresher } from './chunk.refresher';
import type { ChunkAnswer, PriceSource } from './price-sources';

const MAX_ANSWERS = 3;
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
const UNPRICED: PriceQuote = { available: true, isFree: null, price: null };

/** A ChunkRefresher over a stub source answering `answer(appIds)` (or throwing what it returns). */
function refresher(
  answer: (appIds: number[]) => ChunkAnswer | Error,
  options: {
    backendFails?: (record: AppCountryPriceRecord) => Error | undefined;
    fetchAllowed?: boolean;
    pushDelayMs?: number;
  } = {},
) {
  const asked: number[][] = [];
  const source: PriceSource = {
    name: 'appdetails',
    ask: vi.fn(async (appIds: number[]) => {
      asked.push(appIds);
      const answered = answer(appIds);
      if (answered instanceof Error) throw answered;
      return answered;
    }),
  };
  const pushed: AppCountryPriceRecord[] = [];
  const backend = {
    pushPrice: vi.fn(async (record: AppCountryPriceRecord) => {
      if (options.pushDelayMs) await new Promise((resolve) => setTimeout(resolve, options.pushDelayMs));
      const failure = options.backendFails?.(record);
      if (failure) throw failure;
      pushed.push(record);
    }),
  };
  const circuit = {
    whenFetchAllowed: vi.fn(async () => options.fetchAllowed ?? true),
    openSignal: new AbortController().signal,
    recordSuccess: vi.fn(),
    recordFailure: vi.fn(),
  };
  const chunks = new ChunkRefresher(
    backend as unknown as BackendClient,
    circuit as unknown as BackendCircuit,
    MAX_ANSWERS,
  );
  const report = new BatchReport(range(1, 100));
  const signal = new AbortController().signal;
  const run: TaskRun = { taskId: 't-1', signal, resumable: true, progressed: vi.fn(), pairFailed: vi.fn() };
  const refresh = async (appIds: number[]) => {
    const apps = appIds.map((appId) => ({ appId, index: appId }));
    await chunks.refresh(apps, 'DE', { source, report, progress: undefined, run, signal: run.signal });
    return report.result().failed;
  };
  return { refresh, asked, pushed, circuit, run };
}

/** Every app asked answered unpriced, but those in `lacking`. */
const answering =
  (lacking: (appId: number) => boolean = () => false) =>
  (appIds: number[]): ChunkAnswer =>
    new Map(appIds.filter((appId) => !lacking(appId)).map((appId) => [appId, UNPRICED]));

describe(ChunkRefresher.name, () => {
  it('asks once for the whole chunk and pushes every app, each as its source read it', async () => {
    const { refresh, asked, pushed, run } = refresher(answering());

    expect(await refresh([1, 2, 3])).toEqual([]);
    expect(asked).toEqual([[1, 2, 3]]);
    expect(pushed.map(({ appId, source, price }) => ({ appId, source, price }))).toEqual(
      [1, 2, 3].map((appId) => ({ appId, source: 'appdetails', price: null })),
    );
    expect(run.progressed).toHaveBeenCalledTimes(3);
  });

  it('splits a chunk Steam refuses as too long in two, down to single apps, and fails only an app refused alone', async () => {
    const { refresh, asked, pushed } = refresher((appIds) =>
      appIds.length > 2 || appIds.includes(4) ? new SteamBadRequestError('400') : answering()(appIds),
    );

    expect(await refresh(range(1, 7))).toEqual([{ appId: 4, countries: ['DE'], reason: 'steam_error' }]);
    // Depth first, first halves first: 7 → 4 + 3; 4 → 2 + 2; (3, 4) → 3 + 4; then 3 → 2 + 1.
    expect(asked).toEqual([range(1, 7), [1, 2, 3, 4], [1, 2], [3, 4], [3], [4], [5, 6, 7], [5, 6], [7]]);
    expect(pushed).toHaveLength(6);
  });

  it('asks again, together, the apps an answer lacked, and fails one after STEAM_MAX_ATTEMPTS answers lacked it', async () => {
    let answers = 0;
    const { refresh, asked } = refresher((appIds) =>
      answering((appId) => appId === 8 || (appId === 7 && ++answers === 1))(appIds),
    );

    expect(await refresh([6, 7, 8, 9])).toEqual([{ appId: 8, countries: ['DE'], reason: 'steam_error' }]);
    expect(asked).toEqual([[6, 7, 8, 9], [7, 8], [8]]);
  });

  it('fails the whole chunk steam_error when Steam kept failing it, and an app its source failed alone', async () => {
    const down = refresher(() => new SteamTransientError('503 (after 5 attempts)'));
    expect(await down.refresh([1, 2])).toEqual(
      [1, 2].map((appId) => ({ appId, countries: ['DE'], reason: 'steam_error' })),
    );

    const noCurrency = refresher(
      (appIds) => new Map(appIds.map((appId) => [appId, appId === 2 ? 'steam_error' : UNPRICED])),
    );
    expect(await noCurrency.refresh([1, 2])).toEqual([{ appId: 2, countries: ['DE'], reason: 'steam_error' }]);
    expect(noCurrency.pushed.map((record) => record.appId)).toEqual([1]);
  });

  it('lets the pushes already sent finish before a failure of the task as a whole leaves the chunk', async () => {
    let asks = 0;
    const { refresh, pushed } = refresher(
      (appIds) => (++asks === 1 ? answering((appId) => appId === 3)(appIds) : new Error('Connection is closed.')),
      { pushDelayMs: 20 },
    );

    await expect(refresh([1, 2, 3])).rejects.toThrow('Connection is closed.');
    expect(pushed.map((record) => record.appId)).toEqual([1, 2]);
  });

  it('reports what the backend said of a price it refused, and tells the circuit', async () => {
    const { refresh, circuit } = refresher(answering(), {
      backendFails: ({ appId }) =>
        appId === 2 ? BackendError.rejected('Backend rejected the record with 422') : undefined,
    });

    expect(await refresh([1, 2])).toEqual([{ appId: 2, countries: ['DE'], reason: 'backend_rejected' }]);
    expect(circuit.recordFailure).toHaveBeenCalledWith(expect.any(BackendError), expect.objectContaining({ appId: 2 }));
    expect(circuit.recordSuccess).toHaveBeenCalledTimes(1);
  });

  it('asks again a chunk the circuit withdrew before it left, and fails it backend_error once the circuit gave up', async () => {
    let withdrawn = false;
    const opened = new AbortController();
    const { refresh, asked, circuit } = refresher((appIds) => {
      if (withdrawn) return answering()(appIds);
      withdrawn = true;
      opened.abort();
      return new SteamRequestCancelledError();
    });
    Object.assign(circuit, { openSignal: opened.signal });

    expect(await refresh([1, 2])).toEqual([]);
    expect(asked).toEqual([
      [1, 2],
      [1, 2],
    ]);

    const gaveUp = refresher(answering(), { fetchAllowed: false });
    expect(await gaveUp.refresh([1])).toEqual([{ appId: 1, countries: ['DE'], reason: 'backend_error' }]);
    expect(gaveUp.asked).toEqual([]);
  });
});
