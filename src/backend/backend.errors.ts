/**
 * Backend and auth failures, classified once. `reason` is what the batch
 * reports for the pair (CONTRACT.md §2).
 */
export type BackendFailureReason = 'backend_error' | 'backend_rejected';

export class BackendError extends Error {
  override readonly name = 'BackendError';

  constructor(
    message: string,
    readonly reason: BackendFailureReason,
    /** Whether another attempt could change the answer. */
    readonly transient: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Statuses the backend and the auth server may recover from (§4). */
export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}
