import { describe, expect, it } from 'vitest';

import { retryAfterMs } from './steam.client';

const COOLDOWN_CAP_MS = 300_000;

describe(retryAfterMs.name, () => {
  it('reads seconds', () => {
    expect(retryAfterMs('120', COOLDOWN_CAP_MS)).toBe(120_000);
  });

  it('reads an HTTP date as the time left until it', () => {
    const inOneMinute = new Date(Date.now() + 60_000).toUTCString();
    expect(retryAfterMs(inOneMinute, COOLDOWN_CAP_MS)).toBeGreaterThan(58_000);
    expect(retryAfterMs(inOneMinute, COOLDOWN_CAP_MS)).toBeLessThanOrEqual(60_000);
  });

  it.each([
    ['a year in seconds', '31536000'],
    ['a date next year', new Date(Date.now() + 365 * 86_400_000).toUTCString()],
  ])('never pauses longer than the cap, whatever Steam asks (%s)', (_what, header) => {
    expect(retryAfterMs(header, COOLDOWN_CAP_MS)).toBe(COOLDOWN_CAP_MS);
  });

  it.each([undefined, '', 'soon', '-5'])('ignores a missing or unreadable header (%s)', (header) => {
    expect(retryAfterMs(header, COOLDOWN_CAP_MS)).toBeUndefined();
  });
});
