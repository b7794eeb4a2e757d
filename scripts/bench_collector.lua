-- wrk script for scripts/bench_collector.py: POST a rotating set of pre-generated bodies.
--   BENCH_BODIES  file with one request body per line (JSON events, or batch bodies)
--   BENCH_PATH    request path (default /api/v1/events)
-- Requests are formatted once in init(), so request() costs nothing but a table lookup.
-- done() prints one line "BENCH_JSON {...}" with counts, errors and latency percentiles (us).

local requests = {}
local count = 0
local index = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("BENCH_PATH") or "/api/v1/events"
  local file = assert(io.open(os.getenv("BENCH_BODIES"), "r"))
  local headers = { ["Content-Type"] = "application/json" }
  for line in file:lines() do
    if #line > 0 then
      count = count + 1
      requests[count] = wrk.format("POST", path, headers, line)
    end
  end
  file:close()
  thread_id = tonumber(id) or 0
  index = (thread_id * 7919) % count  -- threads start at different places in the set
end

function request()
  index = index % count + 1
  return requests[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p95":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean))
end
