-- wrk script for bench/callback_bench.py: replay pre-signed, pre-encrypted WeChat callbacks.
--
--   wrk -t2 -c16 -d20s -s bench/callbacks.lua http://127.0.0.1:PORT -- REQUESTS_FILE THREADS
--
-- REQUESTS_FILE has one request per line: "<path with query>\t<body>". Thread k (0-based) of
-- THREADS sends lines k, k+THREADS, k+2*THREADS, ... so no two threads send the same request and
-- no request is sent twice unless a thread runs out (counted as "wrapped": a repeat is a dedupe
-- hit, cheaper than a real check-in, so the caller treats it as a failed run).
-- Each response is checked: status 200 and an encrypted XML body (<Encrypt>), else counted.
-- done() prints one line "BENCHJSON {...}" with the totals and latency percentiles (us).

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   local path_file = args[1]
   local nthreads = tonumber(args[2])
   reqs = {}
   local i = 0
   local f = assert(io.open(path_file, "r"))
   for line in f:lines() do
      if i % nthreads == id then
         local tab = string.find(line, "\t", 1, true)
         local path = string.sub(line, 1, tab - 1)
         local body = string.sub(line, tab + 1)
         reqs[#reqs + 1] = wrk.format("POST", path, {["Content-Type"] = "text/xml"}, body)
      end
      i = i + 1
   end
   f:close()
   pool = #reqs
   idx = 0
   issued = 0
   wrapped = 0
   responses = 0
   ok = 0
   non200 = 0
   badbody = 0
end

function request()
   idx = idx + 1
   if idx > pool then
      idx = 1
      wrapped = wrapped + 1
   end
   issued = issued + 1
   return reqs[idx]
end

function response(status, headers, body)
   responses = responses + 1
   if status ~= 200 then
      non200 = non200 + 1
   elseif not string.find(body, "<Encrypt>", 1, true) then
      badbody = badbody + 1
   else
      ok = ok + 1
   end
end

function done(summary, latency, requests)
   local t = {pool = 0, issued = 0, wrapped = 0, responses = 0, ok = 0, non200 = 0, badbody = 0}
   for _, thread in ipairs(threads) do
      for k, _ in pairs(t) do
         t[k] = t[k] + thread:get(k)
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCHJSON {"duration_us": %d, "requests": %d, "bytes": %d, ' ..
      '"err_connect": %d, "err_read": %d, "err_write": %d, "err_status": %d, "err_timeout": %d, ' ..
      '"lat_mean": %.1f, "lat_max": %d, "p50": %d, "p75": %d, "p90": %d, "p99": %d, "p999": %d, ' ..
      '"pool": %d, "issued": %d, "wrapped": %d, "responses": %d, "ok": %d, ' ..
      '"non200": %d, "badbody": %d}\n',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.max, latency:percentile(50), latency:percentile(75),
      latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      t.pool, t.issued, t.wrapped, t.responses, t.ok, t.non200, t.badbody))
end
