import { describe, expect, it } from 'vitest';

import { DIRECT_EGRESS } from './egress';
import { egressStatus } from './egress.status';

const NOW_MS = 1_700_000_000_000;
/** A time in µs, as the limiter's scripts write it: `ms` from now. */
const at = (ms: number) => String((NOW_MS + ms) * 1000);
const date = (ms: number) => new Date(NOW_MS + ms);
const READY = { state: 'ready' };

/** The keys' values in EGRESS_STATES order: egress state, pause-until, store state, cooldown-until, api state, cooldown-until. */
type Values = [string | null, string | null, string | null, string | null, string | null, string | null];

describe(egressStatus.name, () => {
  it.each<[string, Values, object]>([
    ['ready when nothing is set', [null, null, null, null, null, null], { state: 'ready' }],
    [
      'cooling until its budget is ready when one budget cools',
      [null, null, null, null, 'cooling', at(3000)],
      { state: 'cooling', until: date(3000) },
    ],
    [
      'cooling until both are ready when both cool',
      [null, null, 'cooling', at(5000), 'cooling', at(2000)],
      { state: 'cooling', until: date(5000) },
    ],
    [
      'ready once a cooldown ran out, before any reservation noticed',
      [null, null, 'cooling', at(-10), null, null],
      { state: 'ready' },
    ],
    [
      'failing, with its pause, while the proxy fails',
      ['failing', at(4000), null, null, 'cooling', at(1000)],
      { state: 'failing', until: date(4000) },
    ],
    ['failing after its pause, until a success', ['failing', at(-10), null, null, null, null], { state: 'failing' }],
  ])('is %s', (_case, values, summary) => {
    const { egress, state, until } = egressStatus(DIRECT_EGRESS, values, NOW_MS);
    expect(egress).toBe(DIRECT_EGRESS);
    expect(until ? { state, until } : { state }).toEqual(summary);
  });

  it('shows each budget on its own: the cooling one with its end, the other ready', () => {
    const status = egressStatus(DIRECT_EGRESS, [null, null, null, null, 'cooling', at(3000)], NOW_MS);
    expect(status.budgets).toEqual({ store: READY, api: { state: 'cooling', until: date(3000) } });
  });

  it("leaves the budgets as they are while the egress fails: the pause is the egress'", () => {
    const status = egressStatus(DIRECT_EGRESS, ['failing', at(4000), null, null, null, null], NOW_MS);
    expect(status.budgets).toEqual({ store: READY, api: READY });
  });
});
