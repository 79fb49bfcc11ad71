#!/usr/bin/env bash
# Two builds of this server, side by side, on the benchmark kit's SQLite database
# (../shared/peers): `bench/compare-builds.sh OLD_BINARY NEW_BINARY`. Interleaved rounds
# (ROUNDS, default 3) of the kit's serve-bench.sh for each build, anonymous, then logged in
# (a user is registered and logged in on each server; wrk sends its session cookie, so no
# page is kept; VISITORS=logged-in for those alone). Prints the kit's lines, one a route.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
kit="$(cd "$here/../../shared/peers/bench" && pwd)"
source "$kit/common.sh"
old="$(realpath "$1")"; new="$(realpath "$2")"
# Each build then uses the migrations built into it, not a repository in this folder.
cd "$(mktemp -d)"
ROUNDS="${ROUNDS:-3}"
export DURATION="${DURATION:-10s}" WARMUP="${WARMUP:-3s}" CONNS="${CONNS:-32}"

"$kit/make-db.sh" "$DATA/microblog.db" >/dev/null
for build in old new; do
    binary="${!build}"
    db="$DATA/compare-$build.db"
    rm -f "$db"
    DATABASE_URL="sqlite:///$db" "$binary" db upgrade >/dev/null 2>&1
    sqlite3 "$db" "ATTACH '$DATA/microblog.db' AS s;
      INSERT INTO user (id, username, email, password_hash) SELECT id, username, email, password_hash FROM s.user;
      INSERT INTO post (id, body, timestamp, user_id) SELECT id, body, timestamp, user_id FROM s.post;"
done

# wrk, with the session cookie of a user registered and logged in on the server it
# measures (found from the URL wrk is given), when LOGGED_IN is set.
shim="$(mktemp -d)"
trap 'rm -rf "$shim"' EXIT
cat >"$shim/wrk" <<'SHIM'
#!/usr/bin/env bash
[ -z "${LOGGED_IN:-}" ] && exec /usr/bin/wrk "$@"
url="${@: -1}"; base="${url%/*}"; base="${base%/user}"
jar="$LOGDIR/cookies-${base##*:}.txt"
if [ ! -s "$jar.session" ]; then
    token() { grep -o 'name="csrf_token" value="[^"]*"' | sed 's/.*value="//;s/"$//'; }
    t=$(curl -s -c "$jar" -b "$jar" "$base/register" | token)
    curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf_token=$t" \
        -d "username=bench&email=bench@example.com&password=benchmark&password2=benchmark" "$base/register"
    t=$(curl -s -c "$jar" -b "$jar" "$base/login" | token)
    curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf_token=$t" \
        -d "username=bench&password=benchmark" "$base/login"
    awk '$6=="session"{print "session=" $7}' "$jar" >"$jar.session"
fi
exec /usr/bin/wrk -H "Cookie: $(cat "$jar.session")" "$@"
SHIM
chmod +x "$shim/wrk"

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; old=$old new=$new; rounds=$ROUNDS duration=$DURATION conns=$CONNS"
port=18400
for round in $(seq "$ROUNDS"); do
    order=(old new); [ $((round % 2)) -eq 0 ] && order=(new old)
    for visitor in ${VISITORS:-anonymous logged-in}; do
        for build in "${order[@]}"; do
            port=$((port + 1))
            rm -f "$LOGDIR"/cookies-"$port".txt*
            binary="${!build}" db="$DATA/compare-$build.db"
            LOGGED_IN=$([ "$visitor" = logged-in ] && echo 1 || true) PATH="$shim:$PATH" \
                "$kit/serve-bench.sh" "$build-$visitor-r$round" \
                "DATABASE_URL=sqlite:///$db SECRET_KEY=benchmark exec $binary run --port \$PORT" "$port"
        done
    done
done
