-- wrk: POSTs a form to /index with the session cookie and CSRF token in COOKIE and TOKEN
-- (scripts/reliability sets them), and prints the latency of the whole run.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = os.getenv("COOKIE")
wrk.body = "csrf_token=" .. os.getenv("TOKEN") .. "&post=hello+from+wrk"
done = function(summary, latency, requests)
  io.write(string.format("requests %d, non-2xx/3xx %d, p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
    summary.requests, summary.errors.status, latency:percentile(50)/1000, latency:percentile(99)/1000, latency.max/1000))
end
