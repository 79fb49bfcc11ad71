#!/usr/bin/env bash
# Instructions (valgrind callgrind's Ir, the same for the same binary, data and requests,
# whatever else the machine does) one build of the server spends on requests:
#   bench/instructions-per-request.sh BINARY SQLITE_DB N ROUTE
# prints the total for startup, one login (user `bench`, password `benchmark`, registered
# beforehand, as bench/compare-builds.sh does) and N logged-in requests of ROUTE. The
# cost of one request is (total(N) - total(0)) / N.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 BINARY SQLITE_DB N ROUTE" >&2; exit 2; }
bin=$1 db=$2 n=$3 route=$4 port=$((19000 + RANDOM % 500))
out=$(mktemp)
jar=$(mktemp)
trap 'rm -f "$out" "$jar"' EXIT
DATABASE_URL="sqlite:///$db" SECRET_KEY=benchmark \
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" run --port "$port" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$port/index" && break; sleep 0.2; done
token() { grep -o 'name="csrf_token" value="[^"]*"' | sed 's/.*value="//;s/"$//'; }
t=$(curl -s -c "$jar" -b "$jar" "http://127.0.0.1:$port/login" | token)
curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf_token=$t" \
    -d "username=bench&password=benchmark" "http://127.0.0.1:$port/login"
for _ in $(seq "$n"); do curl -s -o /dev/null -b "$jar" "http://127.0.0.1:$port$route"; done
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
grep -E "^(summary|totals):" "$out" | head -1 | awk '{print $2}'
