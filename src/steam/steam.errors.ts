/**
 * Steam failures, classified once where the answer is read (steam.client.ts).
 * The class carries the decision; `steamFailureAction` maps it to what happens.
 */
export abstract class SteamError extends Error {
  abstract readonly kind: SteamFailureKind;
}

export type SteamFailureKind = 'transient' | 'rate_limited' | 'permanent' | 'key_refused';

/** 5xx, a `null` body, a timeout, a reset: worth another attempt after a backoff. */
export class SteamTransientError extends SteamError {
  override readonly name = 'SteamTransientError';
  readonly kind: SteamFailureKind = 'transient';
}

/** 429, or the store's 403 block page: the egress cools down, then another attempt. */
export class SteamRateLimitedError extends SteamError {
  override readonly name = 'SteamRateLimitedError';
  readonly kind = 'rate_limited';

  constructor(
    message: string,
    /** From `Retry-After`, when Steam sent one. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }
}

/** A 400 or another answer that a repeat cannot change. */
export class SteamPermanentError extends SteamError {
  override readonly name = 'SteamPermanentError';
  readonly kind = 'permanent';
}

/** `STEAM_API_URL` answered 403: the key is wrong. Permanent, no cooldown. */
export class SteamKeyRefusedError extends SteamError {
  override readonly name = 'SteamKeyRefusedError';
  readonly kind = 'key_refused';
}

export type SteamFailureAction = { retry: boolean; coolEgress: boolean };

/** The one place that says what each kind of failure leads to. */
export function steamFailureAction(kind: SteamFailureKind): SteamFailureAction {
  switch (kind) {
    case 'transient':
      return { retry: true, coolEgress: false };
    case 'rate_limited':
      return { retry: true, coolEgress: true };
    case 'permanent':
    case 'key_refused':
      return { retry: false, coolEgress: false };
  }
}

/** Anything thrown by the HTTP layer that is not already classified is transient. */
export function asSteamError(error: unknown): SteamError {
  if (error instanceof SteamError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SteamTransientError(`Steam request failed: ${message}`, { cause: error });
}
