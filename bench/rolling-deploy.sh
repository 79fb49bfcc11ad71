#!/usr/bin/env bash
# A rolling deploy on PostgreSQL, through a real load balancer (nginx from Debian, on
# loopback): two instances of the release that serves, traffic through nginx the whole
# time (16 clients reading /index, 4 logged-in clients posting); the next release's revision
# applied with `db upgrade`; two instances of the next release started and put in nginx's
# upstream in place of the old ones (a reload: nginx stops sending them work, and what they
# have in flight finishes); the old ones stopped with SIGTERM; `db contract`. For a rename
# (post.body to text), a type change (post.rank integer to bigint) and a drop (post.rank):
# failed requests, posts acknowledged but not stored, p99 before and during. Then the same
# deploy with the revision run in one go (`--site-stopped`), as it ran before side by side.
#
# The releases are this repository with small patches (bench/rolling-patch.py), built
# without LTO into $work/target. Results in bench/results/rolling-<time>.txt and
# docs/benchmarks-rolling.md (which bench/report.py puts into docs/benchmarks.md).
#
#   bench/rolling-deploy.sh                # about 25 minutes, the builds included
#   SKIP_BUILD=1 bench/rolling-deploy.sh   # with the releases built by an earlier run
#   POSTS=100000 bench/rolling-deploy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
kit=$(cd ../shared/peers/bench && pwd)
# shellcheck source=/dev/null
source "$kit/common.sh"

POSTS=${POSTS:-1000000} BEFORE=${BEFORE:-8} LOAD=${LOAD:-50}
work="$PEERS_WORK/rolling"
mkdir -p "$work" bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$root/bench/results/rolling-$stamp.txt"
log="$work/log-$stamp.txt"
: >"$log"
started=$(date +%s)
step() { echo "### $* ($(($(date +%s) - started)) s)" >&2; }
now() { date +%s.%N; }
for tool in nginx h2load psql curl git; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install nginx-light nghttp2-client postgresql-client curl)" >&2; exit 1; }
done

# The releases: r1 (today's, with post.rank), and one next release per change.
build() {
    local name=$1
    rm -rf "$work/src-$name"
    git worktree remove --force "$work/src-$name" 2>/dev/null || true
    git worktree add -q --detach "$work/src-$name" HEAD
    python3 bench/rolling-patch.py "$work/src-$name" "$name"
    (cd "$work/src-$name" && CARGO_TARGET_DIR="$work/target" CARGO_PROFILE_RELEASE_LTO=false \
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo build -q --release --bin microblog)
    cp "$work/target/release/microblog" "$work/microblog-$name"
    git worktree remove --force "$work/src-$name"
}
for name in r1 rename widen drop; do
    if [ -z "${SKIP_BUILD:-}" ] || [ ! -x "$work/microblog-$name" ]; then
        step "build $name"
        build "$name"
    fi
done

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, Linux $(uname -r)"
    echo "versions: $(rustc --version), PostgreSQL $(pg_psql -d postgres -Atc 'SHOW server_version' | cut -d' ' -f1), $(nginx -v 2>&1)"
    echo "settings: posts=$POSTS before=${BEFORE}s load=${LOAD}s reads=16 clients writes=4 clients"
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (with uncommitted changes)')"
} >"$out"

url=$(pg_url rolling)
# release NAME ARGS: a release's command, with the migrations built into it.
release() {
    local name=$1
    shift
    (cd "$work" && DATABASE_URL=$url "$work/microblog-$name" "$@")
}
nginx_conf() {
    cat >"$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    upstream site {
$(for port in "$@"; do echo "        server 127.0.0.1:$port;"; done)
        keepalive 32;
    }
    server {
        listen 127.0.0.1:18800;
        location / {
            proxy_pass http://site;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
        }
    }
}
EOF
}

# start RELEASE PORT: an instance, ready when /index answers.
start() {
    (cd "$work" && DATABASE_URL=$url SECRET_KEY=rolling exec "$work/microblog-$1" run --port "$2") \
        >>"$work/server-$2.log" 2>&1 &
    echo $! >"$work/pid-$2"
    for _ in $(seq 150); do
        curl -sf -o /dev/null "http://127.0.0.1:$2/index" && return 0
        sleep 0.2
    done
    echo "release $1 did not start on $2: $(tail -n 3 "$work/server-$2.log")" >&2
    exit 1
}

load() {
    local kind=$1 name=$2
    shift 2
    local file="$work/h2load-$kind-$name"
    # h2load appends to its log file: an earlier run's requests must not count again.
    rm -f "$file.log"
    timeout -s INT $((LOAD + 60)) h2load --h1 -D "$LOAD" -N 30s --log-file="$file.log" "$@" >"$file.out" 2>&1 || true
    echo "requests $kind rolling $name $file.log" >>"$log"
    echo "unfinished $kind rolling $name $(awk '/^requests:/ {print $12}' "$file.out")" >>"$log"
}

deploy() {
    local change=$1 mode=$2 name="$1-$2"
    step "$name"
    pg_recreate_db rolling >/dev/null
    release r1 db seed --users 100 --posts 1 >/dev/null
    pg_psql -d rolling -c "INSERT INTO post (body, timestamp, user_id, rank)
        SELECT 'post ' || g, timestamp '2025-01-01' + g * interval '30 seconds', 1 + g % 100, g % 1000
        FROM generate_series(1, $POSTS) AS g" -c "VACUUM (ANALYZE)"
    start r1 18801
    start r1 18802
    nginx_conf 18801 18802
    nginx -p "$work" -c "$work/nginx.conf"
    local base=http://127.0.0.1:18800 cookie token
    cookie=$(bench/login.sh "$base")
    token=$(curl -s -H "Cookie: $cookie" "$base/index" | grep -o 'name="csrf_token" value="[^"]*"' | sed 's/.*value="//;s/"$//' | head -n 1)
    printf 'csrf_token=%s&post=written+during+the+deploy' "$token" >"$work/post.form"
    load reads "$name" -c16 "$base/index" &
    local readers=$!
    load writes "$name" -c4 -d "$work/post.form" -H "Cookie: $cookie" \
        -H "Content-Type: application/x-www-form-urlencoded" "$base/index" &
    local writers=$!
    sleep "$BEFORE"
    local t0 t1 status=ok flag=()
    [ "$mode" = in-one-go ] && flag=(--site-stopped)
    t0=$(now)
    release "$change" db upgrade "${flag[@]}" >"$work/upgrade.out" 2>&1 || status=failed
    start "$change" 18803
    start "$change" 18804
    nginx_conf 18803 18804
    nginx -p "$work" -c "$work/nginx.conf" -s reload
    sleep 2
    kill -TERM "$(cat "$work/pid-18801")" "$(cat "$work/pid-18802")"
    wait "$(cat "$work/pid-18801")" "$(cat "$work/pid-18802")" 2>/dev/null || true
    if [ "$mode" = side-by-side ]; then
        release "$change" db contract >>"$work/upgrade.out" 2>&1 || status=failed
    fi
    t1=$(now)
    echo "upgrade rolling $name $t0 $t1 $status" >>"$log"
    sed "s/^/  $name: /" "$work/upgrade.out" | tail -n 6 >&2
    wait "$readers" "$writers" || true
    local written column=body acknowledged
    [ "$change" = rename ] && column=text
    written=$(pg_psql -d rolling -Atc "SELECT count(*) FROM post WHERE $column = 'written during the deploy'")
    acknowledged=$(awk '$2 == 303' "$work/h2load-writes-$name.log" | wc -l)
    echo "posts rolling $name $acknowledged $written" >>"$log"
    nginx -p "$work" -c "$work/nginx.conf" -s quit
    kill -TERM "$(cat "$work/pid-18803")" "$(cat "$work/pid-18804")" 2>/dev/null || true
    wait "$(cat "$work/pid-18803")" "$(cat "$work/pid-18804")" 2>/dev/null || true
    sleep 1
}

for change in rename widen drop; do
    for mode in side-by-side in-one-go; do
        deploy "$change" "$mode"
    done
done

python3 bench/live_window.py "$log" >>"$out"
grep '^posts ' "$log" >>"$out"
echo "elapsed: $(($(date +%s) - started)) s" >>"$out"
python3 bench/report_rolling.py "$out" docs/benchmarks-rolling.md
step "done: $out, docs/benchmarks-rolling.md"
