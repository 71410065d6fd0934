import { BackendError } from '../backend/backend.errors';
import type { SteamError } from '../steam/steam.errors';
import type { Settlement } from '../tasks/delivery.decision';
import { TaskFailedError, TaskFailureCode } from '../tasks/task.errors';
import { isTaskPattern, TaskPattern } from '../tasks/task-patterns';
import type { PairOutcome } from '../tasks/use-cases/batch.report';

/**
 * The label values of the metric families (metric.catalogue.ts), each a
 * closed set, and the pure functions that map what happened to them. Nothing
 * read from a message ever becomes a label value unless it is one of these.
 */

export type { PairOutcome };
export type TaskPatternLabel = TaskPattern | 'invalid';
export type TaskOutcome = 'done' | 'failed' | 'invalid' | 'requeued';
export type DeadLetterReason = TaskFailureCode | 'poison';
export type SteamRequestOutcome = 'ok' | 'not_modified' | 'rate_limited' | 'transient' | 'permanent' | 'egress_error';
export type BackendPushKind = 'details' | 'price';
export type BackendPushOutcome = 'accepted' | 'rejected' | 'error';
export type TokenRenewalOutcome = 'ok' | 'failed';

export const TASK_OUTCOMES: readonly TaskOutcome[] = ['done', 'failed', 'invalid', 'requeued'];
export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = [
  'invalid_task',
  'steam_error',
  'not_configured',
  'too_many_deliveries',
  'poison',
];
export const PAIR_OUTCOMES: readonly PairOutcome[] = ['updated', 'steam_error', 'backend_error', 'backend_rejected'];
export const STEAM_REQUEST_OUTCOMES: readonly SteamRequestOutcome[] = [
  'ok',
  'not_modified',
  'rate_limited',
  'transient',
  'permanent',
  'egress_error',
];
export const BACKEND_PUSH_KINDS: readonly BackendPushKind[] = ['details', 'price'];
export const BACKEND_PUSH_OUTCOMES: readonly BackendPushOutcome[] = ['accepted', 'rejected', 'error'];
export const TOKEN_RENEWAL_OUTCOMES: readonly TokenRenewalOutcome[] = ['ok', 'failed'];

/** A delivery's pattern as a label: one of the worker's own, else `invalid` (never the message's string). */
export function taskPatternLabel(pattern: string | null): TaskPatternLabel {
  return isTaskPattern(pattern) ? pattern : 'invalid';
}

/**
 * How a delivery settled, from the runner's settlement and what the task
 * ended with: unreadable (no task, or `invalid_task`) is `invalid`, another
 * `task.failed` is `failed`; given back or left to the broker is `requeued`.
 */
export function taskOutcome(settlement: Settlement, error: unknown): TaskOutcome {
  switch (settlement) {
    case 'ack':
      return 'done';
    case 'dead-letter':
      return error instanceof TaskFailedError && error.code !== 'invalid_task' ? 'failed' : 'invalid';
    case 'requeue':
    case 'drop':
      return 'requeued';
  }
}

/** Why a delivery went to the dead-letter queue: its `task.failed` code, or `poison` when nobody could be told. */
export function deadLetterReason(error: unknown): DeadLetterReason {
  return error instanceof TaskFailedError ? error.code : 'poison';
}

/**
 * A Steam request's outcome from its typed failure (steam.errors.ts), or `ok`.
 * `not_modified` is reserved for a conditional request answered 304: no
 * request kind makes one today, so it stays at 0.
 */
export function steamRequestOutcome(error?: SteamError): SteamRequestOutcome {
  if (!error) return 'ok';
  switch (error.kind) {
    case 'rate_limited':
      return 'rate_limited';
    case 'transient':
      return 'transient';
    case 'egress_failed':
      return 'egress_error';
    case 'permanent':
    case 'bad_request':
    case 'key_refused':
      return 'permanent';
  }
}

/**
 * One backend PUT's outcome; `undefined` for a failure before any PUT left
 * (no token: the auth server's, counted as a token renewal) or not the
 * backend's at all.
 */
export function backendPushOutcome(error?: unknown): BackendPushOutcome | undefined {
  if (error === undefined) return 'accepted';
  if (!(error instanceof BackendError) || error.origin === 'auth') return undefined;
  return error.reason === 'backend_rejected' ? 'rejected' : 'error';
}
