import { describe, expect, it } from 'vitest';

import { SteamRequestCancelledError } from '../steam.errors';
import { DIRECT_EGRESS } from './egress';
import { DepartureGate } from './departure.gate';
import type { Reservation } from './egress.limiter';

const MARGIN_MS = 100;

function reservation(overrides: Partial<Reservation> = {}): Reservation {
  return {
    egress: DIRECT_EGRESS,
    budget: 'store',
    leaseId: 'lease-1',
    startsInMs: 0,
    state: 'ready',
    departed: false,
    askedAt: 0,
    ...overrides,
  };
}

/** A limiter whose gate answers from a script, and a clock the test moves. */
function world(answers: (number | 'cancelled')[]) {
  const clock = { now: 0 };
  const calls: number[] = [];
  const limiter = {
    depart: async () => {
      calls.push(clock.now);
      return answers.shift() ?? 0;
    },
  };
  return { clock, calls, limiter };
}

describe(DepartureGate.name, () => {
  it('passes the gate once when the request reaches its socket within the margin', async () => {
    const { clock, calls, limiter } = world([0]);
    const gate = new DepartureGate(limiter, reservation(), 'job-1', MARGIN_MS, () => clock.now);

    await gate.pass();
    clock.now += MARGIN_MS;
    await gate.pass();

    expect(calls).toEqual([0]);
    expect(gate.lateDepartures).toBe(0);
  });

  it('passes the gate again when the request reaches its socket later than the margin after its record', async () => {
    const { clock, calls, limiter } = world([0, 0]);
    const gate = new DepartureGate(limiter, reservation(), 'job-1', MARGIN_MS, () => clock.now);

    await gate.pass();
    clock.now += MARGIN_MS + 1;
    await gate.pass();

    expect(calls).toEqual([0, MARGIN_MS + 1]);
    expect(gate.lateDepartures).toBe(1);
  });

  it('trusts a departure recorded by the reservation only while it is recent', async () => {
    const { clock, calls, limiter } = world([0]);
    clock.now = 40;
    const fresh = new DepartureGate(
      limiter,
      reservation({ departed: true, askedAt: 0 }),
      'job-1',
      MARGIN_MS,
      () => clock.now,
    );
    await fresh.pass();
    expect(calls).toEqual([]);

    clock.now = 500;
    const stale = new DepartureGate(
      limiter,
      reservation({ departed: true, askedAt: 0 }),
      'job-2',
      MARGIN_MS,
      () => clock.now,
    );
    await stale.pass();
    expect(calls).toEqual([500]);
  });

  it('waits as long as the gate says, then asks again', async () => {
    const { calls, limiter } = world([5, 0]);
    const gate = new DepartureGate(limiter, reservation(), 'job-1', MARGIN_MS);

    await gate.pass();

    expect(calls).toHaveLength(2);
  });

  it('refuses a request its caller withdrew', async () => {
    const { limiter } = world(['cancelled']);
    const gate = new DepartureGate(limiter, reservation(), 'job-1', MARGIN_MS);

    await expect(gate.pass()).rejects.toBeInstanceOf(SteamRequestCancelledError);
  });

  it('lets a Redis failure through to its caller, which hands the request back', async () => {
    const limiter = { depart: () => Promise.reject(new Error('Connection is closed.')) };
    const gate = new DepartureGate(limiter, reservation(), 'job-1', MARGIN_MS);

    await expect(gate.pass()).rejects.toThrow('Connection is closed.');
  });
});
