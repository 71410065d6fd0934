/**
 * Reserves the next request start on one egress.
 *
 * KEYS: three per egress, in pool order: next-start key, leases (sorted set),
 *       cooldown-until key.
 * ARGV[1] spacing between two starts on one egress, µs (≥ W/L)
 * ARGV[2] leases an egress carries at once (STEAM_EGRESS_CONCURRENCY)
 * ARGV[3] lease time to live, µs (renewed by its holder while it works)
 * ARGV[4] lease id
 * ARGV[5] longest wait before asking again while an egress is fully leased, µs
 *
 * Returns {egress index (1-based), µs until the reserved start} on success, or
 * {0, µs worth waiting before asking again} when every egress is cooling down
 * or fully leased.
 *
 * Guarantee: on each egress, two granted starts are at least `spacing` apart
 * in Redis time, so any window of W holds at most L starts. A start is only
 * reserved at most one spacing ahead, and a reservation holds a lease, so an
 * egress never has more than its concurrency in flight or promised.
 */
export const RESERVE_START = `
-- Lua would print µs timestamps in %.14g and lose digits: format them whole.
local function whole(n) return string.format('%.0f', n) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local spacing = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local best, bestStart = 0, 0
local shortestWait = -1
for i = 1, #KEYS, 3 do
  local wait = 0
  local coolUntil = tonumber(redis.call('GET', KEYS[i + 2]) or '0')
  if coolUntil > now then
    wait = coolUntil - now
  else
    redis.call('ZREMRANGEBYSCORE', KEYS[i + 1], '-inf', now)
    if redis.call('ZCARD', KEYS[i + 1]) >= limit then
      local oldest = redis.call('ZRANGE', KEYS[i + 1], 0, 0, 'WITHSCORES')
      wait = math.min(tonumber(oldest[2]) - now, tonumber(ARGV[5]))
    end
  end
  if wait == 0 then
    local start = math.max(now, tonumber(redis.call('GET', KEYS[i]) or '0'))
    if best == 0 or start < bestStart then
      best, bestStart = (i + 2) / 3, start
    end
  elseif shortestWait < 0 or wait < shortestWait then
    shortestWait = wait
  end
end
if best == 0 then
  return {0, math.max(shortestWait, 1000)}
end
local k = (best - 1) * 3 + 1
redis.call('SET', KEYS[k], whole(bestStart + spacing), 'PX', math.ceil((bestStart + spacing - now) / 1000) + 1000)
redis.call('ZADD', KEYS[k + 1], whole(bestStart + ttl), ARGV[4])
redis.call('PEXPIRE', KEYS[k + 1], math.ceil((bestStart + ttl - now) / 1000))
return {best, bestStart - now}
`;

/**
 * KEYS[1] leases; ARGV[1] lease id, ARGV[2] ttl µs. Extends a lease that still
 * exists; returns 0 when it had already expired.
 */
export const RENEW_LEASE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local renewed = redis.call('ZADD', KEYS[1], 'XX', 'CH', string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) / 1000))
return renewed
`;

/**
 * KEYS[1] cooldown-until; ARGV[1] cooldown µs. Pushes the egress' cooldown to
 * now + ARGV[1] unless it already lasts longer; returns the end, µs since epoch.
 */
export const COOL_DOWN = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untilUs = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= untilUs then return string.format('%.0f', current) end
redis.call('SET', KEYS[1], string.format('%.0f', untilUs), 'PX', math.ceil(tonumber(ARGV[1]) / 1000))
return string.format('%.0f', untilUs)
`;
