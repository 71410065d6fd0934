import { HttpService } from '@nestjs/axios';
import { Inject, Injectable } from '@nestjs/common';
import pLimit, { LimitFunction } from 'p-limit';
import { firstValueFrom } from 'rxjs';

import { describeNetworkError } from '../common/network-error';
import { retryWithBackoff } from '../common/retry';
import { WorkerConfig } from '../config/worker-config';
import { BackendError, isTransientStatus } from './backend.errors';

export interface AppCountryRecord {
  appId: number;
  country: string;
  available: boolean;
  details: unknown;
  fetchedAt: string;
}

/**
 * The backend API: one idempotent PUT per (app, country). At most
 * BACKEND_CONCURRENCY pushes run at once in this process, whatever the number
 * of tasks; transient failures are retried with backoff.
 */
@Injectable()
export class BackendClient {
  private readonly slots: LimitFunction;

  constructor(
    private readonly http: HttpService,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
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
    // A slot is held per attempt, not across backoff waits.
    return retryWithBackoff(
      () => this.slots(() => (signal?.aborted ? Promise.reject(signal.reason) : this.put(record))),
      this.config.backend.retry,
      (error) => error instanceof BackendError && error.transient,
      signal,
    );
  }

  private async put(record: AppCountryRecord): Promise<void> {
    const url = `${this.config.backend.url}/apps/${record.appId}/countries/${record.country}`;
    let status: number;
    try {
      ({ status } = await firstValueFrom(this.http.put(url, record, { validateStatus: () => true })));
    } catch (error) {
      if (error instanceof BackendError) throw error;
      throw new BackendError(`Backend unreachable: ${describeNetworkError(error)}`, 'backend_error', true);
    }
    if (status >= 200 && status < 300) return;
    if (status === 401) {
      throw new BackendError('Backend refused a renewed token (second 401)', 'backend_error', false);
    }
    if (isTransientStatus(status)) {
      throw new BackendError(`Backend answered ${status}`, 'backend_error', true);
    }
    throw new BackendError(`Backend rejected the record with ${status}`, 'backend_rejected', false);
  }
}
