import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { isCancel } from 'axios';
import pLimit, { LimitFunction } from 'p-limit';
import { firstValueFrom } from 'rxjs';

import { describeNetworkError } from '../common/network-error';
import { retryWithBackoff } from '../common/retry';
import { WorkerConfig } from '../config/worker-config';
import { loggedCall } from '../logging/call.log';
import { WorkerMetrics } from '../metrics/worker.metrics';
import { TokenProvider } from './auth/token.provider';
import { BackendError, isTransientStatus } from './backend.errors';

export interface AppCountryRecord {
  appId: number;
  country: string;
  available: boolean;
  details: unknown;
  fetchedAt: string;
}

/** A price as the backend takes it (docs/contract.md#price-push): amounts in the currency's minor units. */
export interface AppCountryPriceRecord {
  appId: number;
  country: string;
  available: boolean;
  isFree: boolean | null;
  price: {
    currency: string;
    initial: number;
    final: number;
    discountPercent: number;
    initialFormatted: string;
    finalFormatted: string;
    discountEndsAt?: string;
  } | null;
  source: 'appdetails' | 'storebrowse';
  fetchedAt: string;
}

export function isPriceRecord(record: AppCountryRecord | AppCountryPriceRecord): record is AppCountryPriceRecord {
  return 'source' in record;
}

/**
 * The backend API: one idempotent PUT per (app, country), of its details or
 * of its price. At most BACKEND_CONCURRENCY pushes run at once in this
 * process, whatever the number of tasks; transient failures are retried with
 * backoff. Each PUT is bounded whole, headers to last byte, by BACKEND_TIMEOUT_MS.
 */
@Injectable()
export class BackendClient {
  private readonly logger = new Logger(BackendClient.name);
  private readonly slots: LimitFunction;

  constructor(
    private readonly http: HttpService,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
    private readonly tokens: TokenProvider,
    private readonly metrics: WorkerMetrics,
  ) {
    this.slots = pLimit(config.backend.concurrency);
  }

  /**
   * Resolves when the backend accepted the record; rejects with a
   * {@link BackendError}. An abort stops further attempts and backoff waits,
   * but lets a PUT already sent finish (bounded by BACKEND_TIMEOUT_MS): its
   * answer decides whether the pair counts as accepted when the task resumes.
   */
  push(record: AppCountryRecord, signal?: AbortSignal): Promise<void> {
    return this.putWithRetries(`/apps/${record.appId}/countries/${record.country}`, record, signal);
  }

  /** As {@link push}, for a price: the same auth, retries, concurrency and failures. */
  pushPrice(record: AppCountryPriceRecord, signal?: AbortSignal): Promise<void> {
    return this.putWithRetries(`/apps/${record.appId}/countries/${record.country}/price`, record, signal);
  }

  private putWithRetries(path: string, record: AppCountryRecord | AppCountryPriceRecord, signal?: AbortSignal) {
    const kind = isPriceRecord(record) ? 'price' : 'details';
    // A slot is held per attempt, not across backoff waits.
    return retryWithBackoff(
      () =>
        this.slots(() =>
          signal?.aborted ? Promise.reject(signal.reason) : this.metrics.backendPush(kind, this.put(path, record)),
        ),
      this.config.backend.retry,
      (error) => error instanceof BackendError && error.transient,
      signal,
    );
  }

  /**
   * Resolves once the auth server issued a new token (the cached one is
   * dropped first); rejects with a {@link BackendError} of origin `auth`
   * otherwise. For a circuit breaker that watches the auth server.
   */
  async probeAuth(): Promise<void> {
    await this.tokens.renew();
  }

  private async put(path: string, record: object): Promise<void> {
    const url = `${this.config.backend.url}${path}`;
    const { timeoutMs } = this.config.backend;
    // The token first (the interceptor then finds it cached), so that the bound
    // below times the PUT alone: a slow auth server fails as the auth server
    // (origin `auth`), never as a backend timeout.
    await this.tokens.token();
    let status: number;
    try {
      // axios' `timeout` only bounds idle time: the signal bounds the whole answer, to
      // its last byte. Never the caller's abort signal: a PUT once sent is let finish.
      const config = { validateStatus: () => true, signal: AbortSignal.timeout(timeoutMs) };
      const line = { push: path.endsWith('/price') ? 'price' : 'details', path };
      ({ status } = await loggedCall(
        this.logger,
        `Push ${path}`,
        line,
        firstValueFrom(this.http.put(url, record, config)),
      ));
    } catch (error) {
      // From the interceptor (no token for the 401 repeat), origin `auth`.
      if (error instanceof BackendError) throw error;
      // A PUT carries no signal but its bound (the 401 repeat a fresh one), so a cancel is a bound firing.
      if (isCancel(error)) throw BackendError.transient(`Backend timed out (no full answer within ${timeoutMs} ms)`);
      throw BackendError.transient(`Backend unreachable: ${describeNetworkError(error)}`);
    }
    if (status >= 200 && status < 300) return;
    if (status === 401) throw BackendError.failed('Backend refused a renewed token (second 401)');
    if (isTransientStatus(status)) throw BackendError.transient(`Backend answered ${status}`);
    throw BackendError.rejected(`Backend rejected the record with ${status}`);
  }
}
