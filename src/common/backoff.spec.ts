import { describe, expect, it } from 'vitest';

import { backoffDelay } from './backoff';

const policy = { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 30_000, jitter: 0.2 };

describe(backoffDelay.name, () => {
  it('doubles from the base delay on each failed attempt', () => {
    const middle = () => 0.5;
    expect([1, 2, 3, 4].map((n) => backoffDelay(policy, n, middle))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('spreads each delay by at most ±20 %', () => {
    expect(backoffDelay(policy, 2, () => 0)).toBe(1600);
    expect(backoffDelay(policy, 2, () => 1)).toBe(2400);
  });

  it('never waits longer than the cap', () => {
    expect(backoffDelay(policy, 10, () => 1)).toBe(30_000);
  });
});
