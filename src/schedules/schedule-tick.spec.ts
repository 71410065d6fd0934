import { describe, expect, it } from 'vitest';

import { formatTick, scheduledTaskId } from './schedule-tick';

describe(formatTick.name, () => {
  it('writes a tick as YYYY-MM-DDTHH:MM:00Z in UTC', () => {
    expect(formatTick(Date.UTC(2026, 10, 29, 18, 5))).toBe('2026-11-29T18:05:00Z');
  });

  it('pads every field and drops milliseconds', () => {
    expect(formatTick(Date.UTC(2027, 0, 2, 3, 4, 0, 999))).toBe('2027-01-02T03:04:00Z');
  });
});

describe(scheduledTaskId.name, () => {
  it('names the task <name>@<tick>', () => {
    expect(scheduledTaskId('daily-prices', Date.UTC(2026, 10, 29, 18, 5))).toBe('daily-prices@2026-11-29T18:05:00Z');
  });

  it('stays a valid taskId for the longest name', () => {
    expect([...scheduledTaskId('n'.repeat(100), Date.UTC(2026, 10, 29))].length).toBeLessThanOrEqual(128);
  });
});
