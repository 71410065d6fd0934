import { Inject, Injectable, Logger } from '@nestjs/common';
import axios, { AxiosInstance } from 'axios';

import { describeNetworkError } from '../../common/network-error';
import { retryWithBackoff } from '../../common/retry';
import { WorkerConfig } from '../../config/worker-config';
import { WorkerMetrics } from '../../metrics/worker.metrics';
import { BackendError, isTransientStatus } from '../backend.errors';

/** Renew when less than this is left, or a tenth of the lifetime if that is shorter. */
const RENEW_MARGIN_MS = 30_000;

interface CachedToken {
  accessToken: string;
  renewAt: number;
}

/**
 * OAuth 2.0 client-credentials tokens (RFC 6749 §4.4) for the backend: one
 * cached token per process, renewed before it expires, fetched once however
 * many requests need it at the same moment. Each token request is bounded
 * whole, headers to last byte, by BACKEND_TIMEOUT_MS. Tokens are never logged.
 */
@Injectable()
export class TokenProvider {
  private readonly logger = new Logger(TokenProvider.name);
  /** Its own axios instance: the backend's auth interceptor must never see it. */
  private readonly http: AxiosInstance;
  private cached?: CachedToken;
  private inFlight?: Promise<string>;

  constructor(
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
    private readonly metrics: WorkerMetrics,
  ) {
    this.http = axios.create({ timeout: config.backend.timeoutMs, proxy: false, validateStatus: () => true });
  }

  async token(): Promise<string> {
    if (this.cached && Date.now() < this.cached.renewAt) return this.cached.accessToken;
    return this.fetchOnce();
  }

  /**
   * Drops the cached token and fetches a new one (joining a fetch already
   * under way, which is as fresh): resolves once the auth server issued it,
   * rejects with a {@link BackendError} of origin `auth` otherwise.
   */
  async renew(): Promise<string> {
    this.cached = undefined;
    return this.fetchOnce();
  }

  /** Forgets `accessToken` (the backend refused it), unless a newer one replaced it already. */
  invalidate(accessToken: string): void {
    if (this.cached?.accessToken === accessToken) this.cached = undefined;
  }

  /** One fetch at a time, however many callers need the token. */
  private fetchOnce(): Promise<string> {
    this.inFlight ??= this.metrics.tokenRenewal(this.fetchToken()).finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async fetchToken(): Promise<string> {
    const obtainedAt = Date.now();
    const { accessToken, expiresInS } = await retryWithBackoff(
      () => this.requestToken(),
      this.config.backend.retry,
      (error) => error instanceof BackendError && error.transient,
    ).catch((error: unknown) => {
      // Retried here already: the push that needed the token must not retry it again.
      const message = error instanceof Error ? error.message : String(error);
      throw BackendError.auth(message, false, { cause: error });
    });
    const lifetimeMs = expiresInS * 1000;
    const margin = Math.min(RENEW_MARGIN_MS, lifetimeMs / 10);
    this.cached = { accessToken, renewAt: obtainedAt + lifetimeMs - margin };
    this.logger.debug(`Obtained a backend token valid for ${expiresInS} s`);
    return accessToken;
  }

  private async requestToken(): Promise<{ accessToken: string; expiresInS: number }> {
    const { url, clientId, clientSecret } = this.config.auth;
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    });
    const { timeoutMs } = this.config.backend;
    let response;
    try {
      response = await this.http.post(url, form.toString(), {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        // axios' `timeout` only bounds idle time: this bounds the whole answer, to its last byte.
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      // The request carries no signal but its bound, so a cancel is the bound firing.
      if (axios.isCancel(error)) {
        throw BackendError.auth(`Auth server timed out (no full answer within ${timeoutMs} ms)`, true);
      }
      throw BackendError.auth(`Auth server unreachable: ${describeNetworkError(error)}`, true);
    }
    const { status, data } = response;
    if (status < 200 || status >= 300) {
      throw BackendError.auth(`Auth server answered ${status}`, isTransientStatus(status));
    }
    const body = data as { access_token?: unknown; expires_in?: unknown } | null;
    if (typeof body?.access_token !== 'string' || !body.access_token) {
      throw BackendError.auth('Auth server answered without an access_token', true);
    }
    const expiresInS = Number(body.expires_in);
    return { accessToken: body.access_token, expiresInS: expiresInS > 0 ? expiresInS : 3600 };
  }
}
