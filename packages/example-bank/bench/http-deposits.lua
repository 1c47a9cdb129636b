-- The load generator of `pnpm bench:http` (benchmark H1) when `wrk` is
-- installed: `wrk -t 16 -c 16 -s http-deposits.lua <url> -- <side> <deposits>
-- <accounts>`. Each wrk thread has one keep-alive connection and is one
-- client: client k deposits 100 cents `<deposits>` times, in turn on its own
-- accounts `<side>-k-0` .. `<side>-k-(<accounts>-1)` (so no two clients write
-- to one stream), one request at a time (no pipelining). Every response is
-- checked: status 200 and a result for that account that wrote a new event
-- (`"accountId":"<id>"`, `"duplicate":false`, a numeric `"version"`); any
-- other answer is counted as a failure with the first one kept. Each thread
-- times its own requests (the monotonic clock, from sending to the end of the
-- response, with no correction: the same latency the `node:http` loops
-- report), writes `done` on stderr once it has had its answers and stops;
-- the benchmark then ends wrk with SIGINT, and `done()` prints one
-- `chronicle` line per client for the benchmark to read.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } chronicle_timespec;
int clock_gettime(int clock_id, chronicle_timespec *tp);
]])
local monotonic = 1 -- CLOCK_MONOTONIC
local timespec = ffi.new("chronicle_timespec")
local function now()
  ffi.C.clock_gettime(monotonic, timespec)
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

-- Main state: number the threads (one client each) and keep them for done().
local threads = {}

function setup(thread)
  thread:set("client", #threads)
  table.insert(threads, thread)
end

-- Thread state.
function init(args)
  local side, accounts = args[1], tonumber(args[3])
  deposits = tonumber(args[2])
  answered, ok, failures = 0, 0, 0
  latencies = {}
  requests, ids, needles = {}, {}, {}
  local headers = { ["Content-Type"] = "application/json" }
  for a = 0, accounts - 1 do
    local id = side .. "-" .. client .. "-" .. a
    ids[a] = id
    needles[a] = '"accountId":"' .. id .. '"'
    requests[a] = wrk.format("POST", "/api/accounts/" .. id .. "/deposits", headers, '{"amount":100}')
  end
  count = accounts
end

-- One request in flight per connection: the next request is for the account after the last answered.
function request()
  sent_at = now()
  if answered == 0 then started = sent_at end
  return requests[answered % count]
end

function response(status, headers, body)
  local at = now()
  local a = answered % count
  answered = answered + 1
  if
    status == 200
    and body:find(needles[a], 1, true)
    and body:find('"duplicate":false', 1, true)
    and body:find('"version":%d')
  then
    ok = ok + 1
    latencies[ok] = at - sent_at
  else
    failures = failures + 1
    if first_failure == nil then first_failure = ids[a] .. " answered " .. status .. ": " .. body end
  end
  finished = at
  if answered >= deposits then
    io.stderr:write("done\n")
    io.stderr:flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(
    string.format(
      "chronicle errors connect %d read %d write %d\n",
      e.connect,
      e.read,
      e.write
    )
  )
  for _, thread in ipairs(threads) do
    io.write(
      string.format(
        "chronicle client %d ok %d failures %d started %.3f finished %.3f\n",
        thread:get("client"),
        thread:get("ok"),
        thread:get("failures"),
        thread:get("started") or -1,
        thread:get("finished") or -1
      )
    )
    local failure = thread:get("first_failure")
    if failure ~= nil then io.write("chronicle failure ", (failure:gsub("\n", " ")), "\n") end
    local latencies = thread:get("latencies")
    for i = 1, #latencies do
      latencies[i] = string.format("%.3f", latencies[i])
    end
    io.write("chronicle latencies ", table.concat(latencies, " "), "\n")
  end
end
