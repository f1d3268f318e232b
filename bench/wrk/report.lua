-- Shared by the scenario scripts (loaded with dofile): numbers the threads
-- so each seeds its own random sequence, and prints one machine-readable
-- line at the end that bench/run.sh parses (latencies in milliseconds).
local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("thread_no", counter)
   table.insert(threads, thread)
end

function seed_random()
   math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)
   for _ = 1, 10 do math.random() end
end

-- One path per line from FILE, each formatted once into a full request.
function load_requests(file)
   local reqs = {}
   for line in io.lines(file) do
      if #line > 0 then reqs[#reqs + 1] = wrk.format(nil, line) end
   end
   assert(#reqs > 0, "no paths in " .. file)
   return reqs
end

function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f " ..
      "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d bytes=%d\n",
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, latency.mean / 1000,
      e.connect, e.read, e.write, e.status, e.timeout, summary.bytes))
end
