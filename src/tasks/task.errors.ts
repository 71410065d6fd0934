/**
 * Why a task as a whole ends in the dead-letter queue, with the `task.failed`
 * code the orchestrator sees (docs/contract.md#task-failure-codes).
 */
export type TaskFailureCode = 'invalid_task' | 'steam_error' | 'not_configured' | 'too_many_deliveries';

export class TaskFailedError extends Error {
  override readonly name = 'TaskFailedError';

  constructor(
    readonly code: TaskFailureCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Why a task in flight was abandoned without a result. */
export class TaskAbandonedError extends Error {
  override readonly name = 'TaskAbandonedError';

  constructor(readonly why: 'channel_lost' | 'shutdown') {
    super(why === 'channel_lost' ? 'the channel that carried the task was lost' : 'the worker is shutting down');
  }
}
