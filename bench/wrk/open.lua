-- Open loop with coordinated-omission correction, in the manner of wrk2, for
-- Debian's wrk (LuaJIT: clock_gettime through the FFI).
--
--   wrk -tC -cC -d30s -s bench/wrk/open.lua URL -- RATE C [TOKENS_FILE]
--
-- Run with as many threads as connections (-t = -c): the Lua state is per
-- thread, so each one paces exactly one connection. Connection i sends request
-- k at  start + (k + i/C) * C/RATE  (a fixed schedule, RATE requests a second
-- in all). A request's latency is measured from the moment it was *scheduled*
-- (or sent, if the millisecond timer let it go a little early), so a stalled
-- server is charged for every request it kept waiting, as with
-- `oha --latency-correction` and wrk2. POSTs {"message":"hi"}; with
-- TOKENS_FILE, each request carries a token picked uniformly from the file.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local tokens = {}
local body = '{"message":"hi"}'
local interval_us, next_at, sent_ref
lat = {}       -- corrected latencies of this thread, in microseconds
errors = 0
late = 0       -- requests sent more than 1 ms after their schedule

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("index", counter - 1)
  threads = threads or {}
  threads[#threads + 1] = thread
end

function init(args)
  local rate = tonumber(args[1])
  local conns = tonumber(args[2])
  interval_us = 1e6 * conns / rate
  if args[3] and args[3] ~= "" then
    for line in io.lines(args[3]) do
      if line ~= "" then tokens[#tokens + 1] = line end
    end
  end
  math.randomseed(os.time() + (index or 0) * 7919)
  -- Stagger the connections evenly over one interval.
  next_at = now_us() + 100000 + interval_us * (index or 0) / conns
end

function delay()
  local wait = next_at - now_us()
  if wait <= 0 then return 0 end
  return math.floor(wait / 1000)
end

function request()
  local sent = now_us()
  if sent - next_at > 1000 then late = late + 1 end
  sent_ref = math.min(sent, next_at)
  next_at = next_at + interval_us
  local headers = { ["Content-Type"] = "application/json" }
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[math.random(#tokens)]
  end
  return wrk.format("POST", nil, headers, body)
end

function response(status)
  lat[#lat + 1] = now_us() - sent_ref
  if status ~= 200 then errors = errors + 1 end
end

function done(summary)
  local all, bad, behind = {}, 0, 0
  for _, t in ipairs(threads) do
    for _, v in ipairs(t:get("lat")) do all[#all + 1] = v end
    bad = bad + t:get("errors")
    behind = behind + t:get("late")
  end
  table.sort(all)
  local function pct(p)
    if #all == 0 then return 0 end
    local i = math.max(1, math.ceil(#all * p / 100))
    return all[i] / 1000
  end
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "RESULT mode=open requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f non200=%d late_sends=%d socket_errors=%d\n",
    #all, seconds, #all / seconds, pct(50), pct(99), pct(99.9), pct(100), bad, behind,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
