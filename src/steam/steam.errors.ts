import type { SteamOutcome } from './steam-request';

/**
 * Steam failures, classified once where the answer is read (steam.client.ts).
 * The class carries the decision; `steamFailureAction` maps it to what happens.
 */
export abstract class SteamError extends Error {
  abstract readonly kind: SteamFailureKind;

  /** The failure as it travels to the caller through Redis. */
  toFailure(suffix = ''): SteamFailure {
    return { kind: this.kind, message: `${this.message}${suffix}` };
  }
}

/** A Steam failure, serialised: its kind (the class) and its message. */
export interface SteamFailure {
  kind: SteamFailureKind;
  message: string;
}

export type SteamFailureKind =
  'transient' | 'rate_limited' | 'egress_failed' | 'permanent' | 'bad_request' | 'key_refused';

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

/**
 * The proxy itself failed (refused or reset the connection, 407, refused the
 * tunnel): the request never reached Steam. The egress is `failing`; the
 * request goes to another one without using an attempt.
 */
export class SteamEgressError extends SteamError {
  override readonly name = 'SteamEgressError';
  readonly kind = 'egress_failed';
}

/** A 400 or another answer that a repeat cannot change. */
export class SteamPermanentError extends SteamError {
  override readonly name = 'SteamPermanentError';
  readonly kind = 'permanent';
}

/**
 * A multi-app price request answered 400 (body `null`): Steam refused it as
 * malformed, which for a valid request means too long. Permanent for this
 * request; its caller splits a chunk of several apps in two
 * (docs/contract.md#prices).
 */
export class SteamBadRequestError extends SteamError {
  override readonly name = 'SteamBadRequestError';
  readonly kind = 'bad_request';
}

/** `STEAM_API_URL` answered 403: the key is wrong. Permanent, no cooldown. */
export class SteamKeyRefusedError extends SteamError {
  override readonly name = 'SteamKeyRefusedError';
  readonly kind = 'key_refused';
}

/**
 * The caller withdrew a request before it left (its batch stopped fetching):
 * nothing was sent to Steam. Not a Steam failure.
 */
export class SteamRequestCancelledError extends Error {
  override readonly name = 'SteamRequestCancelledError';

  constructor() {
    super('Steam request withdrawn before it left');
  }
}

export interface SteamFailureAction {
  retry: boolean;
  /** What becomes of the egress the request went through. */
  pauseEgress?: 'cooling' | 'failing';
  /** Whether the failure uses one of the request's STEAM_MAX_ATTEMPTS. */
  usesAttempt: boolean;
}

/** The one place that says what each kind of failure leads to. */
export function steamFailureAction(kind: SteamFailureKind): SteamFailureAction {
  switch (kind) {
    case 'transient':
      return { retry: true, usesAttempt: true };
    case 'rate_limited':
      return { retry: true, pauseEgress: 'cooling', usesAttempt: true };
    case 'egress_failed':
      return { retry: true, pauseEgress: 'failing', usesAttempt: false };
    case 'permanent':
    case 'bad_request':
    case 'key_refused':
      return { retry: false, usesAttempt: true };
  }
}

/** Anything thrown by the HTTP layer that is not already classified is transient. */
export function asSteamError(error: unknown): SteamError {
  if (error instanceof SteamError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SteamTransientError(`Steam request failed: ${message}`, { cause: error });
}

/** A Steam job in flight stopped from outside: the worker is shutting down. Not a Steam failure. */
export class SteamRequestHandedBackError extends Error {
  override readonly name = 'SteamRequestHandedBackError';
}

/**
 * Thrown by the Steam queue's processor to have Bull run the job again after
 * `delayMs` (see retryLaterBackoff). Carries no Steam failure of its own.
 */
export class RetryLater extends Error {
  override readonly name = 'RetryLater';

  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

/**
 * The caller's side of a Steam job: the answer, or the SteamError of the
 * failure it carries (the same class the processor classified), or
 * {@link SteamRequestCancelledError} for a withdrawn request.
 */
export function fromOutcome<T>(outcome: SteamOutcome<T>): T {
  if (outcome.ok) return outcome.value;
  if ('withdrawn' in outcome) throw new SteamRequestCancelledError();
  const { kind, message } = outcome.failure;
  switch (kind) {
    case 'transient':
      throw new SteamTransientError(message);
    case 'rate_limited':
      throw new SteamRateLimitedError(message, undefined);
    case 'egress_failed':
      throw new SteamEgressError(message);
    case 'permanent':
      throw new SteamPermanentError(message);
    case 'bad_request':
      throw new SteamBadRequestError(message);
    case 'key_refused':
      throw new SteamKeyRefusedError(message);
  }
}
