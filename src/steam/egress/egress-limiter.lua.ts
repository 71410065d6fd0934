/**
 * Lua scripts of the egress limiter. Times are µs of Redis' own clock (TIME),
 * so every process of every host reads the same clock. Lua prints numbers in
 * %.14g and would lose µs digits: they are written with string.format('%.0f').
 *
 * Keys of one egress: next-start, leases (sorted set of lease id → expiry),
 * departures (sorted set, the sliding log), cooldown-until, state ('cooling' |
 * 'failing'; absent = ready), failures.
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
 * Reserves the next request start on one egress.
 *
 * KEYS: five per egress, in pool order: next-start, leases, cooldown-until,
 *       state, departures.
 * ARGV[1] spacing between two starts on one egress, µs (≥ W/L)
 * ARGV[2] leases an egress carries at once (STEAM_EGRESS_CONCURRENCY)
 * ARGV[3] lease time to live, µs (renewed by its holder while it works)
 * ARGV[4] lease id
 * ARGV[5] longest wait before asking again while an egress is fully leased, µs
 * ARGV[6], ARGV[7] the departure gate's window (µs) and limit (see DEPART)
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
export const RESERVE_START = `${PRELUDE}
local spacing = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local best, bestStart, shortestWait = 0, 0, -1
local recovered = {}
for i = 1, #KEYS, 5 do
  local wait = 0
  local coolUntil = tonumber(redis.call('GET', KEYS[i + 2]) or '0')
  if coolUntil > now then
    wait = coolUntil - now
  else
    -- A cooldown that ran out by itself ends 'cooling'; 'failing' lasts until a success.
    if redis.call('GET', KEYS[i + 3]) == 'cooling' then
      redis.call('DEL', KEYS[i + 3])
      recovered[#recovered + 1] = (i + 4) / 5
    end
    redis.call('ZREMRANGEBYSCORE', KEYS[i + 1], '-inf', now)
    if redis.call('ZCARD', KEYS[i + 1]) >= limit then
      local oldest = redis.call('ZRANGE', KEYS[i + 1], 0, 0, 'WITHSCORES')
      wait = math.min(tonumber(oldest[2]) - now, tonumber(ARGV[5]))
    end
  end
  if wait == 0 then
    local start = math.max(now, tonumber(redis.call('GET', KEYS[i]) or '0'))
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
redis.call('SET', KEYS[k], whole(bestStart + spacing), 'PX', math.ceil((bestStart + spacing - now) / 1000) + 1000)
redis.call('ZADD', KEYS[k + 1], whole(bestStart + ttl), ARGV[4])
redis.call('PEXPIRE', KEYS[k + 1], math.ceil((bestStart + ttl - now) / 1000))
local departed = 0
if bestStart <= now and depart(KEYS[k + 4], tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[4]) == 0 then
  departed = 1
end
return {best, bestStart - now, redis.call('GET', KEYS[k + 3]) or 'ready', recovered, departed}
`;

/**
 * The gate a request passes the moment it leaves: a sliding log of the
 * egress' departures. A reserved start can leave the event loop late, so the
 * schedule alone does not bound departures; this does, in Redis time.
 *
 * KEYS[1] departures, KEYS[2] cooldown-until, KEYS[3] the request's
 * cancellation mark; ARGV[1] window µs (W + margin), ARGV[2] limit L,
 * ARGV[3] a unique id for this departure.
 * Returns 0 when the request may leave now (and records it), -1 when it was
 * cancelled (it must not leave at all), else µs to wait.
 *
 * Guarantees: every interval of length W + margin holds at most L recorded
 * departures, so a request that leaves up to `margin` after its record still
 * keeps every window of W at L or fewer (the caller passes again when it
 * would leave later). A paused egress (a 429 arrived after this request had
 * reserved its start) lets nothing leave until its cooldown ends.
 */
export const DEPART = `${PRELUDE}
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local coolUntil = tonumber(redis.call('GET', KEYS[2]) or '0')
if coolUntil > now then return coolUntil - now end
return depart(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
`;

/**
 * KEYS[1] leases; ARGV[1] lease id, ARGV[2] ttl µs. Extends a lease that still
 * exists; returns 0 when it had already expired.
 */
export const RENEW_LEASE = `${PRELUDE}
local renewed = redis.call('ZADD', KEYS[1], 'XX', 'CH', whole(now + tonumber(ARGV[2])), ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) / 1000))
return renewed
`;

/**
 * Pauses an egress: a 429 or a block page (ARGV[2] = 'cooling') for ARGV[1]
 * µs, or a failure of the proxy itself (ARGV[2] = 'failing') for ARGV[1] µs
 * doubled per consecutive failure, at most ARGV[3] times.
 * KEYS[1] cooldown-until, KEYS[2] state, KEYS[3] failures.
 * Never shortens a longer pause. Returns {state before, state now, end µs}.
 */
export const PAUSE_EGRESS = `${PRELUDE}
local before = redis.call('GET', KEYS[2]) or 'ready'
local pause = tonumber(ARGV[1])
local state = ARGV[2]
if state == 'failing' then
  local failures = redis.call('INCR', KEYS[3])
  redis.call('PEXPIRE', KEYS[3], 86400000)
  pause = pause * math.min(2 ^ (failures - 1), tonumber(ARGV[3]))
elseif before == 'failing' then
  state = 'failing'
end
local untilUs = math.max(now + pause, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], whole(untilUs), 'PX', math.ceil((untilUs - now) / 1000))
-- Kept a day at most: an egress removed from the pool leaves nothing behind for long.
redis.call('SET', KEYS[2], state, 'PX', 86400000)
return {before, state, whole(untilUs)}
`;

/**
 * A request went through a failing egress: it is ready again.
 * KEYS[1] state, KEYS[2] failures. Returns 1 when it was failing.
 */
export const MARK_WORKING = `
local wasFailing = redis.call('GET', KEYS[1]) == 'failing'
redis.call('DEL', KEYS[2])
if wasFailing then redis.call('DEL', KEYS[1]) return 1 end
return 0
`;
