import { afterEach, describe, expect, it, vi } from 'vitest';

import type { WorkerConfig } from '../config/worker-config';
import { BackendCircuit } from './backend.circuit';
import type { AppCountryPriceRecord, AppCountryRecord, BackendClient } from './backend.client';
import { BackendCircuitOpenError, BackendError } from './backend.errors';

const FAILURES = 3;
const PROBE_MS = 1000;
const GIVE_UP_MS = 10_000;

const record: AppCountryRecord = { appId: 620, country: 'DE', available: true, details: {}, fetchedAt: '2026-01-01' };

function circuitWith(backend: Partial<Record<'push' | 'pushPrice' | 'probeAuth', () => Promise<void>>>) {
  const config = {
    backend: { circuit: { failures: FAILURES, probeMs: PROBE_MS, giveUpMs: GIVE_UP_MS } },
  } as WorkerConfig;
  const stub = {
    push: vi.fn(backend.push ?? (() => Promise.resolve())),
    pushPrice: vi.fn(backend.pushPrice ?? (() => Promise.resolve())),
    probeAuth: vi.fn(backend.probeAuth ?? (() => Promise.resolve())),
  };
  const circuit = new BackendCircuit(stub as unknown as BackendClient, config);
  return { circuit, stub };
}

const failBackend = (circuit: BackendCircuit, times: number) => {
  for (let i = 0; i < times; i++) circuit.recordFailure(BackendError.transient('Backend answered 503'), record);
};

describe(BackendCircuit.name, () => {
  afterEach(() => vi.useRealTimers());

  it('stays closed below BACKEND_CIRCUIT_FAILURES consecutive failures, and a success starts the count again', async () => {
    const { circuit } = circuitWith({});
    failBackend(circuit, FAILURES - 1);
    circuit.recordSuccess();
    failBackend(circuit, FAILURES - 1);

    expect(circuit.isOpen).toBe(false);
    expect(await circuit.whenFetchAllowed(new AbortController().signal)).toBe(true);
  });

  it('does not count rejections (the backend answered) towards opening', () => {
    const { circuit } = circuitWith({});
    failBackend(circuit, FAILURES - 1);
    circuit.recordFailure(BackendError.rejected('Backend rejected the record with 422'), record);
    failBackend(circuit, FAILURES - 1);

    expect(circuit.isOpen).toBe(false);
  });

  it('opens after BACKEND_CIRCUIT_FAILURES consecutive backend_error pushes and withdraws what waits for Steam', () => {
    const { circuit } = circuitWith({ push: () => Promise.reject(new Error('still down')) });
    const before = circuit.openSignal;

    failBackend(circuit, FAILURES);

    expect(circuit.isOpen).toBe(true);
    expect(before.aborted).toBe(true);
    expect(before.reason).toBeInstanceOf(BackendCircuitOpenError);
    circuit.onApplicationShutdown();
  });

  it('probes with one push of a failed record every BACKEND_CIRCUIT_PROBE_MS and lets fetching resume when one is accepted', async () => {
    vi.useFakeTimers();
    let accept = false;
    const { circuit, stub } = circuitWith({
      push: () => (accept ? Promise.resolve() : Promise.reject(new Error('503'))),
    });
    failBackend(circuit, FAILURES);
    const allowed = circuit.whenFetchAllowed(new AbortController().signal);

    await vi.advanceTimersByTimeAsync(PROBE_MS * 2);
    expect(stub.push).toHaveBeenCalledTimes(2);
    expect(stub.push).toHaveBeenCalledWith(record);
    accept = true;
    await vi.advanceTimersByTimeAsync(PROBE_MS);

    expect(await allowed).toBe(true);
    expect(circuit.isOpen).toBe(false);
    expect(circuit.openSignal.aborted).toBe(false);
    expect(stub.probeAuth).not.toHaveBeenCalled();
  });

  it('probes with a price push when a price record was the one that failed', async () => {
    vi.useFakeTimers();
    const { circuit, stub } = circuitWith({ pushPrice: () => Promise.resolve() });
    const price: AppCountryPriceRecord = {
      appId: 620,
      country: 'DE',
      available: true,
      isFree: null,
      price: null,
      source: 'appdetails',
      fetchedAt: '2026-01-01',
    };
    for (let i = 0; i < FAILURES; i++) circuit.recordFailure(BackendError.transient('Backend answered 503'), price);

    await vi.advanceTimersByTimeAsync(PROBE_MS);

    expect(stub.pushPrice).toHaveBeenCalledWith(price);
    expect(stub.push).not.toHaveBeenCalled();
    expect(circuit.isOpen).toBe(false);
  });

  it('probes with a token request while the auth server refuses the credentials', async () => {
    vi.useFakeTimers();
    const { circuit, stub } = circuitWith({ probeAuth: () => Promise.resolve() });
    for (let i = 0; i < FAILURES; i++)
      circuit.recordFailure(BackendError.auth('Auth server answered 400', false), record);

    await vi.advanceTimersByTimeAsync(PROBE_MS);

    expect(stub.probeAuth).toHaveBeenCalledTimes(1);
    expect(stub.push).not.toHaveBeenCalled();
    expect(circuit.isOpen).toBe(false);
  });

  it('lets waiting pairs give up after BACKEND_CIRCUIT_GIVE_UP_MS, and later ones at once, while it keeps probing', async () => {
    vi.useFakeTimers();
    const { circuit, stub } = circuitWith({ push: () => Promise.reject(new Error('503')) });
    failBackend(circuit, FAILURES);
    const waiting = circuit.whenFetchAllowed(new AbortController().signal);

    await vi.advanceTimersByTimeAsync(GIVE_UP_MS);

    expect(await waiting).toBe(false);
    expect(await circuit.whenFetchAllowed(new AbortController().signal)).toBe(false);
    expect(stub.push.mock.calls.length).toBeGreaterThanOrEqual(GIVE_UP_MS / PROBE_MS - 1);
    circuit.onApplicationShutdown();
  });

  it('stops a waiting pair when its batch is aborted', async () => {
    const { circuit } = circuitWith({ push: () => Promise.reject(new Error('503')) });
    failBackend(circuit, FAILURES);
    const batch = new AbortController();
    const waiting = circuit.whenFetchAllowed(batch.signal);

    batch.abort(new Error('channel lost'));

    await expect(waiting).rejects.toThrow('channel lost');
    circuit.onApplicationShutdown();
  });
});
