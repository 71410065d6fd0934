/** Why a publish did not get its confirm. */
export class NotConfirmedError extends Error {
  override readonly name = 'NotConfirmedError';
}

/** A result the broker did not confirm, or returned as unroutable: the task goes back. */
export class ResultNotConfirmedError extends Error {
  override readonly name = 'ResultNotConfirmedError';
}

/** A task that is certainly not in WORKER_QUEUE: no channel took it, or the broker returned it. Safe to try again. */
export class TaskNotQueuedError extends Error {
  override readonly name = 'TaskNotQueuedError';
}

/** A task sent to WORKER_QUEUE without a confirm: it may be there or not, so it is never sent again. */
export class TaskNotConfirmedError extends Error {
  override readonly name = 'TaskNotConfirmedError';
}
