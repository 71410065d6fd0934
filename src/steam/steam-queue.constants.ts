import type { JobOptions } from 'bull';

export const STEAM_QUEUE = 'steam-requests';

/** A processor's "try again after this long" is carried on the error it throws. */
export const RETRY_LATER_BACKOFF = 'steam-retry-later';

/**
 * Bull's own attempt counter is only a backstop: the processor counts the
 * requests that really reached Steam (job data `requestsMade`) and gives up by
 * itself after STEAM_MAX_ATTEMPTS, so that waiting for an egress or handing a
 * job back at shutdown never uses an attempt.
 */
export const STEAM_JOB_OPTIONS: JobOptions = {
  attempts: 1000,
  backoff: { type: RETRY_LATER_BACKOFF },
  // Results travel to the caller on Bull's completed event; the job is kept a
  // little while so a caller that missed the event (Redis reconnect) can read it.
  removeOnComplete: { age: 600, count: 500 },
  removeOnFail: { age: 3600, count: 1000 },
};

export class RetryLater extends Error {
  override readonly name = 'RetryLater';

  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

/** Bull backoff strategy: the delay the processor asked for, or no retry at all. */
export function retryLaterBackoff(_attemptsMade: number, error: unknown): number {
  return error instanceof RetryLater ? error.delayMs : -1;
}
