import type { JobOptions } from 'bull';

import type { SteamBudget } from './steam-budget';
import { RetryLater } from './steam.errors';

export const STEAM_QUEUE = 'steam-requests';

/**
 * One Bull queue per budget (docs/contract.md#steam-calls), each with its own
 * processor slots: a backlog on one budget (a batch's appdetails) never holds
 * the other's requests (GetAppList pages) in line behind it, where they would
 * wait while their own budget sits idle. The store's keeps the old name.
 */
export const STEAM_QUEUES: Readonly<Record<SteamBudget, string>> = { store: STEAM_QUEUE, api: `${STEAM_QUEUE}-api` };

/** A processor's "try again after this long" is carried on the error it throws. */
export const RETRY_LATER_BACKOFF = 'steam-retry-later';

/**
 * Bull's own attempt limit is only a backstop, never reached in practice: the
 * processor counts the requests that really reached Steam (job data
 * `requestsMade`) and gives up by itself after STEAM_MAX_ATTEMPTS, so that
 * waiting for an egress or handing a job back at shutdown never uses an
 * attempt. A job that reaches it anyway is failed by Bull and run again by
 * the queue (SteamRequestQueue).
 */
export const BULL_ATTEMPTS_BACKSTOP = 1000;

export const STEAM_JOB_OPTIONS: JobOptions = {
  attempts: BULL_ATTEMPTS_BACKSTOP,
  backoff: { type: RETRY_LATER_BACKOFF },
  // Results travel to the caller on Bull's completed event; the job is kept a
  // little while so a caller that missed the event (Redis reconnect) can read it.
  removeOnComplete: { age: 600, count: 500 },
  removeOnFail: { age: 3600, count: 1000 },
};

/** Bull backoff strategy: the delay the processor asked for, or no retry at all. */
export function retryLaterBackoff(_attemptsMade: number, error: unknown): number {
  return error instanceof RetryLater ? error.delayMs : -1;
}
