#!/usr/bin/env bash
# bench/profile.sh DATABASE_URL OUT_FILE: where the server's CPU time goes. Starts the
# release build (MICROBLOG, default target/release/microblog; its symbols are enough) on
# DATABASE_URL, and for each page (/index and USER_PATH, anonymous and logged in) samples
# it with `perf record` while wrk loads it; bench/breakdown.py sorts the samples into the
# parts of a request. Appends to OUT_FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
url=$1 out=$2
seconds=${PROFILE_SECONDS:-8}
user_path=${USER_PATH:-/user/user0500}
microblog=${MICROBLOG:-target/release/microblog}
port=$((19500 + RANDOM % 400))
log=$(mktemp)
DATABASE_URL="$url" SECRET_KEY=benchmark "$microblog" run --port "$port" >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$port/index" && break; sleep 0.1; done
cookie=$(bench/login.sh "http://127.0.0.1:$port")
for visitor in anonymous logged-in; do
    for route in /index "$user_path"; do
        header=()
        [ "$visitor" = logged-in ] && header=(-H "Cookie: $cookie")
        wrk -t1 -c32 -d2s "${header[@]}" "http://127.0.0.1:$port$route" >/dev/null
        data=$(mktemp)
        perf record -q -F 1999 -p "$pid" -o "$data" -- sleep "$seconds" 2>/dev/null &
        record=$!
        wrk -t1 -c32 -d"${seconds}s" "${header[@]}" "http://127.0.0.1:$port$route" >/dev/null
        wait "$record" || true
        {
            echo "## profile $visitor $route ($(echo "$url" | cut -d: -f1))"
            perf report -q -i "$data" --no-children --sort dso,sym --stdio -g none --percent-limit 0 2>/dev/null \
                | python3 bench/breakdown.py
        } >>"$out"
        rm -f "$data"
    done
done
