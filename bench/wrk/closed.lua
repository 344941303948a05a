-- Closed loop (wrk's own model): each connection sends its next request as soon
-- as the previous answer arrived. Used to find saturation.
--
--   wrk -t2 -c16 -d20s -s bench/wrk/closed.lua URL -- [TOKENS_FILE]
--
-- POSTs {"message":"hi"}; with TOKENS_FILE, each request carries
-- `Authorization: Bearer <a token picked uniformly from the file>`.

local tokens = {}
local body = '{"message":"hi"}'
local errors = 0

function init(args)
  if args[1] and args[1] ~= "" then
    for line in io.lines(args[1]) do
      if line ~= "" then tokens[#tokens + 1] = line end
    end
  end
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8)) or 0))
end

function request()
  local headers = { ["Content-Type"] = "application/json" }
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[math.random(#tokens)]
  end
  return wrk.format("POST", nil, headers, body)
end

function response(status)
  if status ~= 200 then errors = errors + 1 end
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("errors") or 0) end
  io.write(string.format(
    "RESULT mode=closed requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f non200=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    latency.max / 1000, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
