/** Why a publish did not get its confirm. */
export class NotConfirmedError extends Error {
  override readonly name = 'NotConfirmedError';
}

/** A result the broker did not confirm, or returned as unroutable: the task goes back. */
export class ResultNotConfirmedError extends Error {
  override readonly name = 'ResultNotConfirmedError';
}
