import type { RedisScript } from '../../redis/redis.module';
import { CLOCK } from './egress-limiter.lua';

/*
 * Lua scripts of the egress limiter's pauses and states: a budget cooling
 * after a 429, an egress failing as a proxy, and what the health details
 * read. Keys and clock as in egress-limiter.lua.ts.
 */

/**
 * Steam said "too many" (a 429, or the store's block page) on one budget of
 * an egress: that budget cools for ARGV[1] µs; the other budget goes on.
 * KEYS: the budget's cooldown-until and state.
 * Never shortens a longer cooldown. Returns {state before, 'cooling', end µs}.
 */
export const COOL_DOWN_BUDGET: RedisScript = {
  name: 'steamWorkerCoolDownBudget',
  keys: 2,
  lua: `${CLOCK}
local cooldown, stateKey = KEYS[1], KEYS[2]
local before = redis.call('GET', stateKey) or 'ready'
local untilUs = math.max(now + tonumber(ARGV[1]), tonumber(redis.call('GET', cooldown) or '0'))
redis.call('SET', cooldown, whole(untilUs), 'PX', math.ceil((untilUs - now) / 1000))
-- Kept a day at most: an egress removed from the pool leaves nothing behind for long.
redis.call('SET', stateKey, 'cooling', 'PX', 86400000)
return {before, 'cooling', whole(untilUs)}
`,
};

/**
 * The proxy itself failed: the whole egress (both budgets) pauses for ARGV[1]
 * µs, doubled per consecutive failure, at most ARGV[2] times, and stays
 * 'failing' until a request goes through it (MARK_WORKING).
 * KEYS: the egress' pause-until, state, failures.
 * Never shortens a longer pause. Returns {state before, 'failing', end µs}.
 */
export const MARK_FAILING: RedisScript = {
  name: 'steamWorkerMarkFailing',
  keys: 3,
  lua: `${CLOCK}
local pause, stateKey, failures = KEYS[1], KEYS[2], KEYS[3]
local before = redis.call('GET', stateKey) or 'ready'
local count = redis.call('INCR', failures)
redis.call('PEXPIRE', failures, 86400000)
local length = tonumber(ARGV[1]) * math.min(2 ^ (count - 1), tonumber(ARGV[2]))
local untilUs = math.max(now + length, tonumber(redis.call('GET', pause) or '0'))
redis.call('SET', pause, whole(untilUs), 'PX', math.ceil((untilUs - now) / 1000))
redis.call('SET', stateKey, 'failing', 'PX', 86400000)
return {before, 'failing', whole(untilUs)}
`,
};

/**
 * A request went through a failing egress: it is ready again.
 * KEYS: state, failures. Returns 1 when it was failing.
 */
export const MARK_WORKING: RedisScript = {
  name: 'steamWorkerMarkWorking',
  keys: 2,
  lua: `
local state, failures = KEYS[1], KEYS[2]
local wasFailing = redis.call('GET', state) == 'failing'
redis.call('DEL', failures)
if wasFailing then redis.call('DEL', state) return 1 end
return 0
`,
};

/**
 * The values of KEYS, for the health details: per egress its state and
 * pause-until, then each budget's state and cooldown-until.
 * Returns {value or false, …} in the order of KEYS.
 */
export const EGRESS_STATES: RedisScript = {
  name: 'steamWorkerEgressStates',
  lua: `
local states = {}
for i = 1, #KEYS do states[i] = redis.call('GET', KEYS[i]) or false end
return states
`,
};
