/**
 * Backend and auth failures, classified once. `reason` is what the batch
 * reports for the pair (docs/contract.md#failure-reasons).
 */
export type BackendFailureReason = 'backend_error' | 'backend_rejected';

/** Which server failed: the auth server (no token) or the backend itself. */
export type BackendFailureOrigin = 'auth' | 'backend';

export interface BackendFailure {
  reason: BackendFailureReason;
  /** Whether another attempt could change the answer. */
  transient: boolean;
  origin: BackendFailureOrigin;
}

/**
 * Build one with the named constructors: {@link BackendError.transient},
 * {@link BackendError.failed}, {@link BackendError.rejected} for the backend,
 * {@link BackendError.auth} for the auth server. Messages are secret-free:
 * never the token, the client secret, or an axios error (it carries the
 * request's headers).
 */
export class BackendError extends Error implements BackendFailure {
  override readonly name = 'BackendError';
  readonly reason: BackendFailureReason;
  readonly transient: boolean;
  readonly origin: BackendFailureOrigin;

  constructor(message: string, failure: BackendFailure, options?: ErrorOptions) {
    super(message, options);
    this.reason = failure.reason;
    this.transient = failure.transient;
    this.origin = failure.origin;
  }

  /** The backend failed in a way another attempt may mend (5xx, 408, 429, a timeout, a connection error). */
  static transient(message: string): BackendError {
    return new BackendError(message, { reason: 'backend_error', transient: true, origin: 'backend' });
  }

  /** The backend failed, not for the record's sake, in a way another attempt will not mend (a second 401). */
  static failed(message: string): BackendError {
    return new BackendError(message, { reason: 'backend_error', transient: false, origin: 'backend' });
  }

  /** The backend refused the record itself (a 4xx): the pair fails as `backend_rejected`. */
  static rejected(message: string): BackendError {
    return new BackendError(message, { reason: 'backend_rejected', transient: false, origin: 'backend' });
  }

  /** No token: the auth server failed or refused the credentials. */
  static auth(message: string, transient: boolean, options?: ErrorOptions): BackendError {
    return new BackendError(message, { reason: 'backend_error', transient, origin: 'auth' }, options);
  }
}

/** Statuses the backend and the auth server may recover from (§4). */
export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Why a batch's Steam requests still waiting were withdrawn. */
export class BackendCircuitOpenError extends Error {
  override readonly name = 'BackendCircuitOpenError';

  constructor() {
    super('the backend keeps failing: fetching paused');
  }
}
