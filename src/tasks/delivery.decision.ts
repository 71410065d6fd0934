import { TaskAbandonedError, TaskFailedError } from './task.errors';

/** What happens to a delivery on the broker. */
export type Settlement = 'ack' | 'dead-letter' | 'requeue' | 'drop';

export interface DeliveryDecision {
  /** What to publish (and confirm) first: the task's result, or its `task.failed`. */
  publish?: 'result' | 'task.failed';
  /** Then: ack, dead-letter, give back, or leave to the broker (its channel is gone). */
  settle: Settlement;
  /** Whether to pause before giving it back, so that a passing fault cannot spin. */
  pause?: true;
}

/**
 * The ack / dead-letter / requeue decision (docs/contract.md#ack-and-reject),
 * as a pure function of what the task ended with. At-least-once: a delivery
 * is acked only after its result is confirmed, dead-lettered only after its
 * `task.failed` is confirmed, and otherwise given back, or left to the broker
 * when the channel that carried it is gone (its redelivery does the work).
 * When a publish fails, the decision is taken again with that error.
 *
 * @param error what the task threw, `undefined` when it produced its result
 * @param abandoned why the task was stopped from outside, if it was
 */
export function decideDelivery(error: unknown, abandoned?: TaskAbandonedError): DeliveryDecision {
  if (abandoned?.why === 'channel_lost') return { settle: 'drop' };
  if (abandoned?.why === 'shutdown') return { settle: 'requeue' };
  if (error === undefined) return { publish: 'result', settle: 'ack' };
  if (error instanceof TaskFailedError) return { publish: 'task.failed', settle: 'dead-letter' };
  // Redis or the broker away, a result not confirmed, anything unforeseen: try again later.
  return { settle: 'requeue', pause: true };
}

/** Why `signal` was aborted, when it was aborted by the task's own stop. */
export function abandonReason(signal: AbortSignal): TaskAbandonedError | undefined {
  return signal.aborted && signal.reason instanceof TaskAbandonedError ? signal.reason : undefined;
}
