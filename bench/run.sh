#!/usr/bin/env bash
# The benchmarks behind docs/benchmarks.md. This server against the floor of the benchmark
# kit in ../shared/peers, on the kit's data (1,000 users, 100,000 posts; the floor's copy
# has the index on post (user_id, timestamp) this server's migrations make, the kit's
# what-if index), with wrk -c32: anonymous and
# logged-in visitors (wrk sends a session cookie: bench/wrk-shim), on SQLite and on
# PostgreSQL (server and database CPU), in interleaved rounds; this server on MariaDB; the
# command line against Flask; inserts against raw rusqlite; autogenerate on 200 tables; and
# the profile of each page. Writes bench/results/run-<time>.txt, then docs/benchmarks.md and
# docs/benchmarks.svg from it (bench/report.py).
#
#   bench/run.sh            # about 13 minutes after the builds
#   QUICK=1 bench/run.sh    # one short round: a smoke run, and its report says so
#
# Needs the PostgreSQL and MariaDB servers of the test suite (127.0.0.1, trust auth / root
# without a password), wrk, hyperfine, perf, sqlite3, psql, pg_dump and mysql (installed
# with apt-get when missing), and Python 3 with venv for the kit's Flask.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
kit=$(cd ../shared/peers/bench && pwd)
# shellcheck source=/dev/null
source "$kit/common.sh"

if [ "${QUICK:-0}" = 1 ]; then
    ROUNDS=${ROUNDS:-1} PG_ROUNDS=${PG_ROUNDS:-1} DURATION=${DURATION:-3s} WARMUP=${WARMUP:-1s}
    PROFILE_SECONDS=${PROFILE_SECONDS:-2}
else
    ROUNDS=${ROUNDS:-3} PG_ROUNDS=${PG_ROUNDS:-2} DURATION=${DURATION:-8s} WARMUP=${WARMUP:-2s}
    PROFILE_SECONDS=${PROFILE_SECONDS:-5}
fi
export DURATION WARMUP CONNS=${CONNS:-32} PROFILE_SECONDS
mkdir -p bench/results
out="$root/bench/results/run-$(date -u +%Y%m%dT%H%M%SZ).txt"
microblog="$root/target/release/microblog"
started=$(date +%s)
step() { echo "### $* ($(($(date +%s) - started)) s)" >&2; }

missing=()
for tool in wrk hyperfine perf sqlite3 psql pg_dump mysql bc curl; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    packages=$(printf '%s\n' "${missing[@]}" | sed 's/^perf$/linux-perf/;s/^psql$/postgresql-client/;s/^pg_dump$/postgresql-client/;s/^mysql$/mariadb-client/' | sort -u)
    echo "installing $packages" >&2
    apt-get install -y -qq $packages >/dev/null
fi

step build
cargo build -q --release --bin microblog
build_floor -q
"$APP/setup.sh" >/dev/null
started=$(date +%s)

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r)"
    echo "versions: $(rustc --version), wrk $(wrk -v 2>&1 | head -1 | cut -d' ' -f2), PostgreSQL $(pg_psql -d postgres -Atc 'SHOW server_version' | cut -d' ' -f1), $(mysql -uroot -h127.0.0.1 -Nse 'SELECT VERSION()')"
    echo "settings: rounds=$ROUNDS pg_rounds=$PG_ROUNDS duration=$DURATION warmup=$WARMUP connections=$CONNS quick=${QUICK:-0}"
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (with uncommitted changes)')"
} >"$out"

# serve NAME VISITOR 'COMMAND' PORT: the kit's serve-bench.sh, logged in or not.
port=18600
serve() {
    port=$((port + 1))
    rm -f "$LOGDIR/session-cookie-$port"
    LOGGED_IN=$([ "$2" = logged-in ] && echo 1 || true) PATH="$root/bench/wrk-shim:$PATH" \
        "$kit/serve-bench.sh" "$1" "$3" "$port" >>"$out" 2>>"$LOGDIR/serve-bench.err" \
        || echo "$1 FAILED" >>"$out"
}
# rounds DB N FLOOR_COMMAND OURS_COMMAND: interleaved rounds, both visitors.
rounds() {
    local servers
    for round in $(seq "$2"); do
        servers=(floor ours)
        [ $((round % 2)) = 0 ] && servers=(ours floor)
        for visitor in anonymous logged-in; do
            for server in "${servers[@]}"; do
                step "$1 round $round, $visitor, $server"
                if [ "$server" = floor ]; then command=$3; else command=$4; fi
                serve "$1.$visitor.$server.r$round" "$visitor" "$command"
            done
        done
    done
}

step "SQLite: the kit's database"
"$kit/make-db.sh" "$DATA/microblog.db" >/dev/null
cp "$DATA/microblog.db" "$DATA/floor.db"
sqlite3 "$DATA/floor.db" "CREATE INDEX ix_post_user_id_timestamp ON post (user_id, timestamp)"
rm -f "$DATA"/ours.db*
DB="$DATA/ours.db" SRC_DB="$DATA/microblog.db" bench/seed.sh
rounds sqlite "$ROUNDS" \
    "exec $FLOOR_BIN/floor --db $DATA/floor.db --bind 127.0.0.1:\$PORT" \
    "DATABASE_URL=sqlite:///$DATA/ours.db SECRET_KEY=benchmark exec $microblog run --port \$PORT"

step "PostgreSQL: the kit's database"
DB_KIND=postgres "$kit/make-db.sh" >/dev/null
pg_recreate_db peers_bench_floor "$PG_DB" >/dev/null
pg_psql -d peers_bench_floor -c "CREATE INDEX ix_post_user_id_timestamp ON post (user_id, timestamp)" -c "ANALYZE post"
pg_recreate_db "$PG_DB_OURS" >/dev/null
DATABASE_URL="$(pg_url "$PG_DB_OURS")" "$microblog" db upgrade >/dev/null 2>&1
pg_dump --data-only --table='"user"' --table=post "$(pg_url "$PG_DB")" | pg_psql -o /dev/null -d "$PG_DB_OURS"
pg_psql -d "$PG_DB_OURS" -c 'VACUUM (FREEZE, ANALYZE)'
export PG_MEASURE_DBS="peers_bench_floor $PG_DB_OURS"
rounds postgres "$PG_ROUNDS" \
    "exec $FLOOR_BIN/floor_pg --db $(pg_url peers_bench_floor) --bind 127.0.0.1:\$PORT" \
    "DATABASE_URL=$(pg_url "$PG_DB_OURS") SECRET_KEY=benchmark exec $microblog run --port \$PORT"
unset PG_MEASURE_DBS

step "MariaDB: this server alone"
mysql_url="mysql://root@127.0.0.1:3306/peers_bench_ours"
mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS peers_bench_ours; CREATE DATABASE peers_bench_ours CHARACTER SET utf8mb4"
DATABASE_URL="$mysql_url" "$microblog" db upgrade >/dev/null 2>&1
sqlite3 -csv -newline $'\n' "$DATA/microblog.db" "SELECT id, username, email, password_hash FROM user" >"$DATA/users.csv"
sqlite3 -csv -newline $'\n' "$DATA/microblog.db" "SELECT id, body, timestamp, user_id FROM post" >"$DATA/posts.csv"
load="CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\n'"
mysql --local-infile=1 -uroot -h127.0.0.1 peers_bench_ours -e "
    LOAD DATA LOCAL INFILE '$DATA/users.csv' INTO TABLE user $load (id, username, email, password_hash);
    LOAD DATA LOCAL INFILE '$DATA/posts.csv' INTO TABLE post $load (id, body, timestamp, user_id);
    ANALYZE TABLE user, post;" >/dev/null
for visitor in anonymous logged-in; do
    step "MariaDB, $visitor"
    serve "mariadb.$visitor.ours.r1" "$visitor" \
        "DATABASE_URL=$mysql_url SECRET_KEY=benchmark exec $microblog run --port \$PORT"
done

step "command line"
bench/cli-timings.sh "$DATA" >>"$out"

step inserts
rm -f "$DATA"/seeded.db*
DATABASE_URL="sqlite:///$DATA/seeded.db" "$microblog" db seed --users 1000 --posts 100000 --batch 100000 2>/dev/null \
    | grep '^Seeded' | sed 's/^/insert ours one transaction: /' >>"$out"
rm -f "$DATA"/seeded.db*
DATABASE_URL="sqlite:///$DATA/seeded.db" "$microblog" db seed --users 1000 --posts 100000 --batch 1000 2>/dev/null \
    | grep '^Seeded' | sed 's/^/insert ours 1,000-row transactions: /' >>"$out"
rm -f "$DATA/insert-floor.db"
(cd "$APP" && FLASK_APP=microblog.py DATABASE_URL="sqlite:///$DATA/insert-floor.db" "$VENV/bin/flask" db upgrade >/dev/null 2>&1)
"$FLOOR_BIN/insert_floor" "$DATA/microblog.db" "$DATA/insert-floor.db" >>"$out"
# Raw rusqlite again on the database this server writes (its schema, indexes and journal
# mode, the posts it seeded): what is left is the unit of work's own cost.
rm -f "$DATA"/insert-same.db*
DATABASE_URL="sqlite:///$DATA/insert-same.db" "$microblog" db upgrade >/dev/null 2>&1
"$FLOOR_BIN/insert_floor" "$DATA/seeded.db" "$DATA/insert-same.db" \
    | sed 's/^insert_floor /insert_floor_same_database /' >>"$out"

step "autogenerate on 200 tables"
cargo bench -q -p dbmigrate --bench compare 2>/dev/null | grep '^compare' >>"$out"

step profiles
bench/profile.sh "sqlite:///$DATA/ours.db" "$out"
bench/profile.sh "$(pg_url "$PG_DB_OURS")" "$out"

echo "elapsed: $(($(date +%s) - started)) s after the builds" >>"$out"
python3 bench/report.py "$out" docs/benchmarks.md docs/benchmarks.svg
pg_psql -d postgres -c "DROP DATABASE IF EXISTS peers_bench_floor" >/dev/null
step "done: $out, docs/benchmarks.md"
