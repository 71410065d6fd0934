import type { RedisScript } from '../../redis/redis.module';

/**
 * Lua scripts of the egress limiter's schedule (reservations, the departure
 * gate, leases, cancellations), registered once and called by name; the
 * pauses and states are in egress-states.lua.ts.
 * Times are µs of Redis' own clock (TIME), so every process of every host
 * reads the same clock. Lua prints numbers in %.14g and would lose µs digits:
 * they are written with string.format('%.0f').
 *
 * Each egress has two budgets, the store's and the Web API's
 * (docs/contract.md#rate-limit), which Steam counts apart. Keys of one budget
 * of one egress: next-start, reservations (sorted set of lease id → expiry:
 * starts reserved and not yet over), departures (sorted set, the sliding log),
 * cooldown-until (after a 429 through it), state ('cooling'; absent = ready).
 * Keys of the egress as a whole, shared by its budgets: leases (sorted set of
 * lease id → expiry: requests in flight), pause-until and state ('failing':
 * the proxy itself failed; absent = ready), failures.
 *
 * A request reserves a start on its budget, and takes a lease of the egress
 * only when it leaves: a start waiting for its budget's slot never keeps the
 * other budget's requests off the egress.
 */
/** Redis' clock in µs (`now`), and `whole` to write µs without losing digits. */
export const CLOCK = `
local function whole(n) return string.format('%.0f', n) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
`;

/** The clock, and the departure gate and bounded sets every scheduling script shares. */
const PRELUDE = `${CLOCK}
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
-- A bounded set of holders (lease id → expiry µs), expired ones dropped:
-- 0 when id holds a place or one is free, else µs worth waiting (at most recheck).
local function placeWait(set, size, id, recheck)
  redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
  if redis.call('ZSCORE', set, id) or redis.call('ZCARD', set) < size then return 0 end
  local oldest = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
  return math.max(1, math.min(tonumber(oldest[2]) - now, recheck))
end
local function hold(set, id, untilUs)
  redis.call('ZADD', set, whole(untilUs), id)
  redis.call('PEXPIRE', set, math.ceil((untilUs - now) / 1000))
end
`;

/**
 * Reserves the next request start on one budget of one egress of the pool.
 *
 * KEYS: eight per egress, in pool order: the budget's next-start,
 *       cooldown-until, state, departures and reservations; the egress'
 *       leases, pause-until and state.
 * ARGV: spacing between two starts on one budget of an egress (µs, ≥ W/L);
 *       reservations per budget and leases per egress at once
 *       (STEAM_EGRESS_CONCURRENCY); their time to live (µs, renewed by the
 *       holder while it works); lease id; longest wait before asking again
 *       while a set is full (µs); the budget's departure gate window (µs) and
 *       limit (see depart).
 *
 * Returns {egress index (1-based), µs until the reserved start, the egress'
 * state, indexes of egresses whose budget cooldown ended, 1 when a start due
 * now already passed the departure gate and took its lease (saving the
 * request a round trip)}, or {0, µs worth waiting, '', …} when on every
 * egress the budget cools down, the egress is paused, or the budget's
 * reservations are full.
 *
 * Guarantee: on each budget of each egress, two granted starts are at least
 * `spacing` apart, so any window of W holds at most L starts of that budget;
 * the other budget's starts neither count nor wait for them. A start is
 * reserved at most `concurrency` spacings ahead. Among free egresses the one
 * whose next start on the budget comes first wins, which spreads load evenly.
 */
export const RESERVE_START: RedisScript = {
  name: 'steamWorkerReserveStart',
  lua: `${PRELUDE}
local PER_EGRESS = 8
local spacing, concurrency, ttl, leaseId, recheck, gateWindow, gateLimit =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local best, bestStart, shortestWait = 0, 0, -1
local recovered = {}
for i = 1, #KEYS, PER_EGRESS do
  local index = (i - 1) / PER_EGRESS + 1
  local nextStart, cooldown, state, reservations = KEYS[i], KEYS[i + 1], KEYS[i + 2], KEYS[i + 4]
  local pause = KEYS[i + 6]
  local coolUntil = tonumber(redis.call('GET', cooldown) or '0')
  -- A cooldown that ran out by itself ends 'cooling'; 'failing' lasts until a success.
  if coolUntil <= now and redis.call('GET', state) == 'cooling' then
    redis.call('DEL', state)
    recovered[#recovered + 1] = index
  end
  local wait = 0
  local pausedUntil = math.max(coolUntil, tonumber(redis.call('GET', pause) or '0'))
  if pausedUntil > now then
    wait = pausedUntil - now
  else
    wait = placeWait(reservations, concurrency, leaseId, recheck)
  end
  if wait == 0 then
    local start = math.max(now, tonumber(redis.call('GET', nextStart) or '0'))
    if best == 0 or start < bestStart then
      best, bestStart = index, start
    end
  elseif shortestWait < 0 or wait < shortestWait then
    shortestWait = wait
  end
end
if best == 0 then
  return {0, math.max(shortestWait, 1000), '', recovered}
end
local k = (best - 1) * PER_EGRESS + 1
local nextStart, departures, reservations = KEYS[k], KEYS[k + 3], KEYS[k + 4]
local leases, egressState = KEYS[k + 5], KEYS[k + 7]
redis.call('SET', nextStart, whole(bestStart + spacing), 'PX', math.ceil((bestStart + spacing - now) / 1000) + 1000)
hold(reservations, leaseId, bestStart + ttl)
local departed = 0
if bestStart <= now and placeWait(leases, concurrency, leaseId, recheck) == 0
    and depart(departures, gateWindow, gateLimit, leaseId) == 0 then
  hold(leases, leaseId, now + ttl)
  departed = 1
end
return {best, bestStart - now, redis.call('GET', egressState) or 'ready', recovered, departed}
`,
};

/**
 * The gate a request passes the moment it leaves: a sliding log of the
 * departures on its budget of its egress, and a lease of the egress for the
 * time it is in flight. A reserved start can leave the event loop late, so
 * the schedule alone does not bound departures; this does, in Redis time.
 *
 * KEYS: the budget's departures and cooldown-until, the egress' pause-until
 *       and leases, the request's cancellation mark.
 * ARGV: the budget's window µs (W + margin) and limit L, the request's lease
 *       id, leases per egress (STEAM_EGRESS_CONCURRENCY), lease time to live
 *       µs, longest wait before asking again while the leases are full µs.
 * Returns 0 when the request may leave now (and records it, holding a lease),
 * -1 when it was cancelled (it must not leave at all), else µs to wait.
 *
 * Guarantees: every interval of length W + margin holds at most L recorded
 * departures of the budget, so a request that leaves up to `margin` after its
 * record still keeps every window of W at L or fewer (the caller passes again
 * when it would leave later, keeping its lease). At most
 * STEAM_EGRESS_CONCURRENCY requests of either budget are in flight on an
 * egress. A cooling budget (a 429 arrived after this request had reserved
 * its start) or a paused egress lets nothing leave until its pause ends.
 */
export const DEPART: RedisScript = {
  name: 'steamWorkerDepart',
  keys: 5,
  lua: `${PRELUDE}
local departures, cooldown, pause, leases, cancelled = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local window, limit, leaseId, concurrency, ttl, recheck =
  tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('EXISTS', cancelled) == 1 then return -1 end
local pausedUntil = math.max(tonumber(redis.call('GET', cooldown) or '0'), tonumber(redis.call('GET', pause) or '0'))
if pausedUntil > now then return pausedUntil - now end
local wait = placeWait(leases, concurrency, leaseId, recheck)
if wait > 0 then return wait end
wait = depart(departures, window, limit, leaseId)
if wait == 0 then hold(leases, leaseId, now + ttl) end
return wait
`,
};

/**
 * KEYS: the budget's reservations, the egress' leases. ARGV: lease id, ttl µs.
 * Extends the request's reservation and, once it left, its lease; returns 0
 * when neither still existed (they had expired).
 */
export const RENEW_LEASE: RedisScript = {
  name: 'steamWorkerRenewLease',
  keys: 2,
  lua: `${PRELUDE}
local ttl = tonumber(ARGV[2])
local renewed = 0
for _, set in ipairs(KEYS) do
  if redis.call('ZADD', set, 'XX', 'CH', whole(now + ttl), ARGV[1]) == 1 then
    redis.call('PEXPIRE', set, math.ceil(ttl / 1000))
    renewed = 1
  end
end
return renewed
`,
};

/**
 * KEYS: the budget's reservations, the egress' leases. ARGV: lease id.
 * Frees the budget and the egress for the next request at once.
 */
export const RELEASE_LEASE: RedisScript = {
  name: 'steamWorkerReleaseLease',
  keys: 2,
  lua: `
local reservations, leases = KEYS[1], KEYS[2]
return redis.call('ZREM', reservations, ARGV[1]) + redis.call('ZREM', leases, ARGV[1])
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
