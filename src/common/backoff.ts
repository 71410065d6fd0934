import type { RetryPolicy } from '../config/worker-config';

/**
 * Delay before attempt `attempt + 1`, after `attempt` failed ones (1-based):
 * `baseDelayMs × 2^(attempt−1)`, spread by ±`jitter`, capped at `maxDelayMs`
 * (docs/contract.md#steam-failures, #push). `random` is injectable so tests can pin it.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const exponential = policy.baseDelayMs * 2 ** Math.max(0, attempt - 1);
  const spread = 1 + policy.jitter * (2 * random() - 1);
  return Math.round(Math.min(policy.maxDelayMs, exponential * spread));
}
