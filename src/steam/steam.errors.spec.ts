import { describe, expect, it } from 'vitest';

import {
  asSteamError,
  fromOutcome,
  SteamBadRequestError,
  SteamEgressError,
  SteamError,
  SteamFailureAction,
  steamFailureAction,
  SteamFailureKind,
  SteamKeyRefusedError,
  SteamPermanentError,
  SteamRateLimitedError,
  SteamRequestCancelledError,
  SteamTransientError,
} from './steam.errors';

describe(steamFailureAction.name, () => {
  it.each<{ kind: SteamFailureKind; action: SteamFailureAction }>([
    { kind: 'transient', action: { retry: true, usesAttempt: true } },
    { kind: 'rate_limited', action: { retry: true, pauseEgress: 'cooling', usesAttempt: true } },
    { kind: 'egress_failed', action: { retry: true, pauseEgress: 'failing', usesAttempt: false } },
    { kind: 'permanent', action: { retry: false, usesAttempt: true } },
    { kind: 'bad_request', action: { retry: false, usesAttempt: true } },
    { kind: 'key_refused', action: { retry: false, usesAttempt: true } },
  ])(
    '$kind: retry $action.retry, egress $action.pauseEgress, uses an attempt $action.usesAttempt',
    ({ kind, action }) => {
      expect(steamFailureAction(kind)).toEqual(action);
    },
  );
});

describe(fromOutcome.name, () => {
  it('hands back the answer of a job that succeeded', () => {
    expect(fromOutcome({ ok: true, value: { available: true } })).toEqual({ available: true });
  });

  it.each<[SteamError, new (...args: never[]) => SteamError]>([
    [new SteamTransientError('Steam appdetails answered 503'), SteamTransientError],
    [new SteamRateLimitedError('Steam appdetails answered 429', 1000), SteamRateLimitedError],
    [new SteamEgressError('Proxy 10.0.0.1:3128 failed'), SteamEgressError],
    [new SteamPermanentError('Steam appdetails answered 400'), SteamPermanentError],
    [new SteamBadRequestError('Steam appdetails prices answered 400'), SteamBadRequestError],
    [new SteamKeyRefusedError('Steam refused STEAM_API_KEY (403)'), SteamKeyRefusedError],
  ])('rebuilds the class the processor classified: %s', (error, errorClass) => {
    // Through Redis and back, as Bull carries it.
    const outcome = JSON.parse(JSON.stringify({ ok: false, failure: error.toFailure(' (after 5 attempts)') }));

    const thrown = captured(() => fromOutcome(outcome));

    expect(thrown).toBeInstanceOf(errorClass);
    expect((thrown as SteamError).kind).toBe(error.kind);
    expect((thrown as Error).message).toBe(`${error.message} (after 5 attempts)`);
  });

  it('reports a withdrawn request as cancelled, not as a Steam failure', () => {
    const thrown = captured(() => fromOutcome({ ok: false, withdrawn: true }));
    expect(thrown).toBeInstanceOf(SteamRequestCancelledError);
    expect(thrown).not.toBeInstanceOf(SteamError);
  });
});

describe(asSteamError.name, () => {
  it('keeps a classified error and calls anything else transient, keeping its cause', () => {
    const classified = new SteamPermanentError('400');
    const reset = new Error('socket hang up');

    expect(asSteamError(classified)).toBe(classified);
    expect(asSteamError(reset)).toBeInstanceOf(SteamTransientError);
    expect(asSteamError(reset).cause).toBe(reset);
  });
});

function captured(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
