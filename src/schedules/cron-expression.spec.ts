import { describe, expect, it } from 'vitest';

import { cronSchedule, InvalidCronError } from './cron-expression';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const REASONS = [
  'must have five fields: minute hour day-of-month month day-of-week',
  'must not use H: its value would differ between processes',
  'is not a valid cron expression',
];

describe(cronSchedule.name, () => {
  it('ticks every minute for * * * * *, strictly after the time it is given', () => {
    const next = cronSchedule('* * * * *');
    expect(iso(next(at('2026-11-29T17:00:30.123Z')))).toBe('2026-11-29T17:01:00.000Z');
    expect(iso(next(at('2026-11-29T17:01:00.000Z')))).toBe('2026-11-29T17:02:00.000Z');
  });

  it('reads the fields in UTC: 5 18 * * * is 18:05 UTC every day', () => {
    const next = cronSchedule('5 18 * * *');
    expect(iso(next(at('2026-11-29T18:04:59.000Z')))).toBe('2026-11-29T18:05:00.000Z');
    expect(iso(next(at('2026-11-29T18:05:00.000Z')))).toBe('2026-11-30T18:05:00.000Z');
  });

  it('takes month and weekday names, whose letters are not the hash H', () => {
    expect(iso(cronSchedule('0 6 * * THU')(at('2026-11-29T00:00:00Z')))).toBe('2026-12-03T06:00:00.000Z');
  });

  it.each([
    ['too few fields', '* * *'],
    ['six fields (seconds first)', '0 * * * * *'],
    ['a macro', '@daily'],
    ['nothing', ''],
    ['a value out of range', '61 * * * *'],
    ['letters', 'a b c d e'],
    ['a day that never comes', '0 0 31 2 *'],
    ['a step of 0', '*/0 * * * *'],
    ['the hash H', 'H 18 * * *'],
    ['a hashed range', '0 H(0-5) * * *'],
  ])('refuses %s without quoting the expression', (_what, expression) => {
    let error: unknown;
    try {
      cronSchedule(expression);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(InvalidCronError);
    // One of its own fixed messages; cron-parser's own ("got value 61") stays in the cause.
    expect(REASONS).toContain((error as Error).message);
  });
});
