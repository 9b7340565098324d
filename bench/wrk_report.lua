-- wrk script for scripts/bench.sh: a plain GET of the URL given to wrk, and at
-- the end one line "HABANERO_WRK {json}" with throughput, latency percentiles
-- (microseconds) and error counts, so the script need not parse wrk's table.
--   wrk -t2 -c32 -d10s --latency -s bench/wrk_report.lua http://127.0.0.1:PORT/healthz

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'HABANERO_WRK {"requests":%d,"duration_s":%.3f,"requests_per_s":%.1f,' ..
    '"latency_us":{"mean":%.1f,"stdev":%.1f,"min":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency.mean, latency.stdev, latency.min,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
