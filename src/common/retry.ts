import type { RetryPolicy } from '../config/worker-config';
import { backoffDelay } from './backoff';
import { sleep } from './sleep';

/**
 * Runs `attempt` up to `policy.maxAttempts` times, waiting the policy's backoff
 * between tries, while `isTransient` says the failure may pass. The last
 * error is rethrown as it is; an abort stops the waiting at once.
 */
export async function retryWithBackoff<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  policy: RetryPolicy,
  isTransient: (error: unknown) => boolean,
  signal?: AbortSignal,
): Promise<T> {
  for (let attemptNumber = 1; ; attemptNumber++) {
    signal?.throwIfAborted();
    try {
      return await attempt(attemptNumber);
    } catch (error) {
      if (attemptNumber >= policy.maxAttempts || !isTransient(error)) throw error;
      await sleep(backoffDelay(policy, attemptNumber), signal);
    }
  }
}
