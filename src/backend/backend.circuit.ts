import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { setMaxListeners } from 'node:events';

import { linkedSignal } from '../common/linked-signal';
import { sleep } from '../common/sleep';
import { WorkerConfig } from '../config/worker-config';
import { AppCountryPriceRecord, AppCountryRecord, BackendClient, isPriceRecord } from './backend.client';
import { BackendCircuitOpenError, BackendError } from './backend.errors';

/**
 * A circuit breaker in front of Steam spending: while the auth server refuses
 * the credentials or the backend keeps failing, fetching a pair from Steam
 * only burns budget on data that cannot be pushed.
 *
 * Closed: pushes go on; BACKEND_CIRCUIT_FAILURES consecutive `backend_error`
 * pushes open it. Open: `openSignal` aborts (Steam requests not yet sent are
 * withdrawn), batches wait in `whenFetchAllowed`, and a probe runs every
 * BACKEND_CIRCUIT_PROBE_MS (a token request while auth refused, else one push
 * of a record that failed); an accepted probe closes it. After
 * BACKEND_CIRCUIT_GIVE_UP_MS open, waiting pairs give up (`backend_error`,
 * no Steam request) while probing goes on. One circuit per process.
 */
@Injectable()
export class BackendCircuit implements OnApplicationShutdown {
  private readonly logger = new Logger(BackendCircuit.name);
  private consecutiveFailures = 0;
  private open?: { since: number; probe: () => Promise<void>; closed: Promise<void>; close: () => void };
  private opened = new AbortController();
  private readonly stopped = new AbortController();

  constructor(
    private readonly backend: BackendClient,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
  ) {
    setMaxListeners(0, this.opened.signal);
  }

  /** Aborts when the circuit opens; a fresh one after each close. */
  get openSignal(): AbortSignal {
    return this.opened.signal;
  }

  get isOpen(): boolean {
    return this.open !== undefined;
  }

  /** The backend accepted a push, or answered it at all (a 4xx rejection is an answer). */
  recordSuccess(): void {
    this.consecutiveFailures = 0;
    this.close();
  }

  /** A push failed; only `backend_error` counts towards opening the circuit. */
  recordFailure(error: BackendError, record: AppCountryRecord | AppCountryPriceRecord): void {
    if (error.reason !== 'backend_error') return this.recordSuccess();
    this.consecutiveFailures++;
    if (this.open || this.consecutiveFailures < this.config.backend.circuit.failures) return;
    const probe =
      error.origin === 'auth'
        ? () => this.backend.probeAuth()
        : () => (isPriceRecord(record) ? this.backend.pushPrice(record) : this.backend.push(record));
    let close!: () => void;
    const closed = new Promise<void>((resolve) => (close = resolve));
    this.open = { since: Date.now(), probe, closed, close };
    this.logger.warn(
      `${this.consecutiveFailures} pushes in a row failed (${error.origin}): Steam fetches paused, probing every ` +
        `${this.config.backend.circuit.probeMs} ms`,
    );
    this.opened.abort(new BackendCircuitOpenError());
    void this.probeUntilClosed(this.open);
  }

  /**
   * Resolves true at once while the circuit is closed, or when it closes;
   * false when it stayed open past BACKEND_CIRCUIT_GIVE_UP_MS (the pair fails
   * without a Steam request). Rejects when `signal` aborts.
   */
  async whenFetchAllowed(signal: AbortSignal): Promise<boolean> {
    const open = this.open;
    if (!open) return true;
    const leftMs = open.since + this.config.backend.circuit.giveUpMs - Date.now();
    if (leftMs <= 0) return false;
    const settled = new AbortController();
    const wait = linkedSignal(signal, settled.signal);
    try {
      return await Promise.race([open.closed.then(() => true), sleep(leftMs, wait.signal).then(() => false)]);
    } finally {
      settled.abort();
      wait.dispose();
    }
  }

  onApplicationShutdown(): void {
    this.stopped.abort();
  }

  private close(): void {
    const open = this.open;
    if (!open) return;
    this.open = undefined;
    this.opened = new AbortController();
    setMaxListeners(0, this.opened.signal);
    this.logger.log('The backend accepts again: Steam fetches resume');
    open.close();
  }

  private async probeUntilClosed(open: NonNullable<typeof this.open>): Promise<void> {
    while (this.open === open && !this.stopped.signal.aborted) {
      try {
        await sleep(this.config.backend.circuit.probeMs, this.stopped.signal);
        await open.probe();
        this.recordSuccess();
      } catch (error) {
        if (this.stopped.signal.aborted) return;
        this.logger.debug(`Backend probe failed: ${(error as Error).message}`);
      }
    }
  }
}
