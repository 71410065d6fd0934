import type { RedisScript } from '../../redis/redis.module';

/**
 * Lua scripts of the egress limiter, registered once and called by name.
 * Times are µs of Redis' own clock (TIME), so every process of every host
 * reads the same clock. Lua prints numbers in %.14g and would lose µs digits:
 * they are written with string.format('%.0f').
 *
 * Keys of one egress: next-start, leases (sorted set of lease id → expiry),
 * cooldown-until, state ('cooling' | 'failing'; absent = ready), departures
 * (sorted set, the sliding log), failures.
 */
const PRELUDE = `
local function whole(n) return string.format('%.0f', n) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- The departure gate: records a departure now when fewer than limit lie in the
-- last window µs; returns 0 then, else the µs until the oldest leaves the window.
-- A request that passes again (it left its socket late) replaces its own record.
local function depart(log, window, limit, id)
  local horizon = now - window
  redis.call('ZREMRANGEBYSCORE', log, '-inf', whole(horizon))
  redis.call('ZREM', log, id)
  if redis.call('ZCARD', log) < limit then
    redis.call('ZADD', log, whole(now), id)
    redis.call('PEXPIRE', log, math.ceil(window / 1000) + 1000)
    return 0
  end
  local oldest = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) - horizon)
end
`;

/**
 * Reserves the next request start on one egress of the pool.
 *
 * KEYS: five per egress, in pool order: next-start, leases, cooldown-until,
 *       state, departures.
 * ARGV: spacing between two starts on one egress (µs, ≥ W/L); leases an
 *       egress carries at once (STEAM_EGRESS_CONCURRENCY); lease time to live
 *       (µs, renewed by its holder while it works); lease id; longest wait
 *       before asking again while an egress is fully leased (µs); the
 *       departure gate's window (µs) and limit (see depart).
 *
 * Returns {egress index (1-based), µs until the reserved start, its state,
 * indexes of egresses whose cooldown ended, 1 when a start due now already
 * passed the departure gate (saving the request a round trip)}, or
 * {0, µs worth waiting, '', …} when every egress is cooling down or fully leased.
 *
 * Guarantee: on each egress, two granted starts are at least `spacing` apart,
 * so any window of W holds at most L starts. A start is reserved at most one
 * spacing ahead and holds a lease, so an egress never has more than its
 * concurrency in flight or promised. Among free egresses the one whose next
 * start comes first wins, which spreads load evenly.
 */
export const RESERVE_START: RedisScript = {
  name: 'steamWorkerReserveStart',
  lua: `${PRELUDE}
local spacing, concurrency, leaseTtl, leaseId, leaseRecheck, gateWindow, gateLimit =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local best, bestStart, shortestWait = 0, 0, -1
local recovered = {}
for i = 1, #KEYS, 5 do
  local nextStart, leases, cooldown, state = KEYS[i], KEYS[i + 1], KEYS[i + 2], KEYS[i + 3]
  local wait = 0
  local coolUntil = tonumber(redis.call('GET', cooldown) or '0')
  if coolUntil > now then
    wait = coolUntil - now
  else
    -- A cooldown that ran out by itself ends 'cooling'; 'failing' lasts until a success.
    if redis.call('GET', state) == 'cooling' then
      redis.call('DEL', state)
      recovered[#recovered + 1] = (i + 4) / 5
    end
    redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
    if redis.call('ZCARD', leases) >= concurrency then
      local oldest = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
      wait = math.min(tonumber(oldest[2]) - now, leaseRecheck)
    end
  end
  if wait == 0 then
    local start = math.max(now, tonumber(redis.call('GET', nextStart) or '0'))
    if best == 0 or start < bestStart then
      best, bestStart = (i + 4) / 5, start
    end
  elseif shortestWait < 0 or wait < shortestWait then
    shortestWait = wait
  end
end
if best == 0 then
  return {0, math.max(shortestWait, 1000), '', recovered}
end
local k = (best - 1) * 5 + 1
local nextStart, leases, state, departures = KEYS[k], KEYS[k + 1], KEYS[k + 3], KEYS[k + 4]
redis.call('SET', nextStart, whole(bestStart + spacing), 'PX', math.ceil((bestStart + spacing - now) / 1000) + 1000)
redis.call('ZADD', leases, whole(bestStart + leaseTtl), leaseId)
redis.call('PEXPIRE', leases, math.ceil((bestStart + leaseTtl - now) / 1000))
local departed = 0
if bestStart <= now and depart(departures, gateWindow, gateLimit, leaseId) == 0 then
  departed = 1
end
return {best, bestStart - now, redis.call('GET', state) or 'ready', recovered, departed}
`,
};

/**
 * The gate a request passes the moment it leaves: a sliding log of the
 * egress' departures. A reserved start can leave the event loop late, so the
 * schedule alone does not bound departures; this does, in Redis time.
 *
 * KEYS: departures, cooldown-until, the request's cancellation mark.
 * ARGV: window µs (W + margin), limit L, a unique id for this departure.
 * Returns 0 when the request may leave now (and records it), -1 when it was
 * cancelled (it must not leave at all), else µs to wait.
 *
 * Guarantees: every interval of length W + margin holds at most L recorded
 * departures, so a request that leaves up to `margin` after its record still
 * keeps every window of W at L or fewer (the caller passes again when it
 * would leave later). A paused egress (a 429 arrived after this request had
 * reserved its start) lets nothing leave until its cooldown ends.
 */
export const DEPART: RedisScript = {
  name: 'steamWorkerDepart',
  keys: 3,
  lua: `${PRELUDE}
local departures, cooldown, cancelled = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', cancelled) == 1 then return -1 end
local coolUntil = tonumber(redis.call('GET', cooldown) or '0')
if coolUntil > now then return coolUntil - now end
return depart(departures, tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
`,
};

/**
 * KEYS: leases. ARGV: lease id, ttl µs. Extends a lease that still exists;
 * returns 0 when it had already expired.
 */
export const RENEW_LEASE: RedisScript = {
  name: 'steamWorkerRenewLease',
  keys: 1,
  lua: `${PRELUDE}
local leases = KEYS[1]
local renewed = redis.call('ZADD', leases, 'XX', 'CH', whole(now + tonumber(ARGV[2])), ARGV[1])
redis.call('PEXPIRE', leases, math.ceil(tonumber(ARGV[2]) / 1000))
return renewed
`,
};

/** KEYS: leases. ARGV: lease id. Frees the egress for the next request at once. */
export const RELEASE_LEASE: RedisScript = {
  name: 'steamWorkerReleaseLease',
  keys: 1,
  lua: `
local leases = KEYS[1]
return redis.call('ZREM', leases, ARGV[1])
`,
};

/**
 * Pauses an egress: a 429 or a block page (ARGV[2] = 'cooling') for ARGV[1]
 * µs, or a failure of the proxy itself (ARGV[2] = 'failing') for ARGV[1] µs
 * doubled per consecutive failure, at most ARGV[3] times.
 * KEYS: cooldown-until, state, failures.
 * Never shortens a longer pause. Returns {state before, state now, end µs}.
 */
export const PAUSE_EGRESS: RedisScript = {
  name: 'steamWorkerPauseEgress',
  keys: 3,
  lua: `${PRELUDE}
local cooldown, stateKey, failures = KEYS[1], KEYS[2], KEYS[3]
local before = redis.call('GET', stateKey) or 'ready'
local pause = tonumber(ARGV[1])
local state = ARGV[2]
if state == 'failing' then
  local count = redis.call('INCR', failures)
  redis.call('PEXPIRE', failures, 86400000)
  pause = pause * math.min(2 ^ (count - 1), tonumber(ARGV[3]))
elseif before == 'failing' then
  state = 'failing'
end
local untilUs = math.max(now + pause, tonumber(redis.call('GET', cooldown) or '0'))
redis.call('SET', cooldown, whole(untilUs), 'PX', math.ceil((untilUs - now) / 1000))
-- Kept a day at most: an egress removed from the pool leaves nothing behind for long.
redis.call('SET', stateKey, state, 'PX', 86400000)
return {before, state, whole(untilUs)}
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
 * Each egress' state and cooldown end, for the health details.
 * KEYS: two per egress, in pool order: state, cooldown-until.
 * Returns {state or false, cooldown end µs or false, …}.
 */
export const EGRESS_STATES: RedisScript = {
  name: 'steamWorkerEgressStates',
  lua: `
local states = {}
for i = 1, #KEYS do states[i] = redis.call('GET', KEYS[i]) or false end
return states
`,
};

/**
 * Withdraws a request that may already wait for its departure in any process.
 * KEYS: its cancellation mark. ARGV: how long the mark lasts, ms.
 */
export const CANCEL_REQUEST: RedisScript = {
  name: 'steamWorkerCancelRequest',
  keys: 1,
  lua: `
local cancelled = KEYS[1]
return redis.call('SET', cancelled, '1', 'PX', ARGV[1])
`,
};
