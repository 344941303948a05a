-- GCRA (generic cell rate algorithm) for one user's bucket, run atomically on
-- Redis' own clock so every askgate instance agrees.
--
-- KEYS[1]  the user's bucket: its theoretical arrival time (TAT), microseconds
-- ARGV[1]  emission interval: microseconds per request at the sustained rate
-- ARGV[2]  burst: how many requests may come at once
--
-- Returns {allowed (1 or 0), remaining, reset_after in microseconds}: when
-- allowed, the time until the bucket is full again; when denied, the time until
-- one more request is admitted. A denied request changes nothing.
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local capacity = interval * burst
local new_tat = tat + interval

if new_tat - now > capacity then
  return {0, 0, new_tat - capacity - now}
end

-- Numbers are written with %d: Lua's default formatting would round a
-- microsecond timestamp. The key expires once the bucket is full again.
local ttl_ms = math.ceil((new_tat - now) / 1000)
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', string.format('%d', ttl_ms))
local remaining = math.floor((capacity - (new_tat - now)) / interval)
return {1, remaining, new_tat - now}
