#!/usr/bin/env bash
# Migrations run while the site serves, on PostgreSQL: 1,000 users and 1,000,000 posts, the
# site under read load (wrk, 16 connections on /index) and write load (4 clients posting),
# then one revision at a time, each undone after: an index on post(body) as autogenerate
# writes it; a column added while another session sits in a transaction that read `post`
# (HOLD seconds); a unique constraint, a foreign key, a CHECK constraint and NOT NULL on
# the million rows. The same cases for the kit's Flask app (gunicorn, two workers) on the
# same data with `flask db upgrade` of the same change, as Alembic writes it; its writers
# are pgbench clients inserting posts (the app has no page that writes).
#
# Writes bench/results/live-<time>.txt and the table in docs/benchmarks-live.md, which
# bench/report.py puts into docs/benchmarks.md.
#
#   bench/live-migrations.sh                 # about 10 minutes after the builds
#   POSTS=100000 HOLD=5 bench/live-migrations.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
kit=$(cd ../shared/peers/bench && pwd)
# shellcheck source=/dev/null
source "$kit/common.sh"

POSTS=${POSTS:-1000000} BEFORE=${BEFORE:-8} HOLD=${HOLD:-12}
# Seconds of load in each case: the time before the upgrade and more than any upgrade takes.
LOAD=${LOAD:-$((BEFORE + 40))}
microblog="$root/target/release/microblog"
work="$PEERS_WORK/live"
mkdir -p bench/results "$work"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$root/bench/results/live-$stamp.txt"
log="$work/log-$stamp.txt"
: >"$log"
started=$(date +%s)
step() { echo "### $* ($(($(date +%s) - started)) s)" >&2; }
now() { date +%s.%N; }

for tool in h2load psql pgbench curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install nghttp2-client postgresql-client curl)" >&2; exit 1; }
done

step build
cargo build -q --release --bin microblog
"$APP/setup.sh" >/dev/null

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, Linux $(uname -r)"
    echo "versions: $(rustc --version), PostgreSQL $(pg_psql -d postgres -Atc 'SHOW server_version' | cut -d' ' -f1), alembic $("$VENV/bin/python" -c 'import alembic; print(alembic.__version__)')"
    echo "settings: posts=$POSTS before=${BEFORE}s load=${LOAD}s hold=${HOLD}s reads=16 clients writes=4 clients"
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (with uncommitted changes)')"
} >"$out"

posts_sql="INSERT INTO post (body, timestamp, user_id)
    SELECT 'post ' || g || ' of the live benchmark', timestamp '2025-01-01' + g * interval '30 seconds', 1 + g % 1000
    FROM generate_series(1, $POSTS) AS g"

step "ours: 1,000 users, $POSTS posts"
pg_recreate_db live_ours >/dev/null
ours_url=$(pg_url live_ours)
DATABASE_URL=$ours_url "$microblog" db seed --users 1000 --posts 1 >/dev/null 2>&1
pg_psql -d live_ours -c "$posts_sql" -c "VACUUM (ANALYZE)"

step "Flask: the same rows"
rm -rf "$work/flask-app"
cp -r "$APP" "$work/flask-app"
pg_recreate_db live_flask >/dev/null
flask_url=$(pg_sa_url live_flask)
flask() { (cd "$work/flask-app" && FLASK_APP=microblog.py DATABASE_URL=$flask_url "$VENV/bin/flask" "$@" 2>&1); }
flask db upgrade >/dev/null
flask_head=$(flask db heads | awk '{print $1}')
pg_psql -d live_flask \
    -c "INSERT INTO \"user\" (username, email) SELECT 'user' || lpad(g::text, 4, '0'), 'user' || g || '@example.com' FROM generate_series(1, 1000) AS g" \
    -c "$posts_sql" -c "VACUUM (ANALYZE)"

# Our revisions go in a copy of the application's repository; the server runs the
# migrations built into it, as the release that is serving does.
ours_repo="$work/ours-migrations"
rm -rf "$ours_repo"
mkdir -p "$ours_repo/versions"
cp migrations/versions/*.toml "$ours_repo/versions/"
ours_head=$("$microblog" db -d "$ours_repo" heads 2>/dev/null | awk '{print $1}')

# case NAME: writes the revision of the case for both, as each tool writes it.
write_case() {
    local name=$1 up_ours down_ours up_flask down_flask
    case $name in
        index)
            up_ours='op = "create_index"
table = "post"
name = "ix_post_body"
columns = ["body"]
concurrently = true'
            down_ours='op = "drop_index"
table = "post"
name = "ix_post_body"
concurrently = true'
            up_flask="op.create_index('ix_post_body', 'post', ['body'])"
            down_flask="op.drop_index('ix_post_body', table_name='post')" ;;
        add-column-while-held)
            up_ours='op = "add_column"
table = "post"
column = { name = "language", type = "string(5)" }'
            down_ours='op = "drop_column"
table = "post"
column = "language"'
            up_flask="op.add_column('post', sa.Column('language', sa.String(length=5), nullable=True))"
            down_flask="op.drop_column('post', 'language')" ;;
        unique)
            up_ours='op = "create_unique_constraint"
table = "post"
name = "uq_post_id_user_id"
columns = ["id", "user_id"]
online = true'
            down_ours='op = "drop_unique_constraint"
table = "post"
name = "uq_post_id_user_id"'
            up_flask="op.create_unique_constraint('uq_post_id_user_id', 'post', ['id', 'user_id'])"
            down_flask="op.drop_constraint('uq_post_id_user_id', 'post', type_='unique')" ;;
        foreign-key)
            up_ours='op = "create_foreign_key"
table = "post"
name = "fk_post_user_id_user_again"
columns = ["user_id"]
ref_table = "user"
ref_columns = ["id"]
online = true'
            down_ours='op = "drop_foreign_key"
table = "post"
name = "fk_post_user_id_user_again"'
            up_flask="op.create_foreign_key('fk_post_user_id_user_again', 'post', 'user', ['user_id'], ['id'])"
            down_flask="op.drop_constraint('fk_post_user_id_user_again', 'post', type_='foreignkey')" ;;
        check)
            up_ours='op = "create_check_constraint"
table = "post"
name = "ck_post_user_id_positive"
condition = "user_id > 0"
online = true'
            down_ours='op = "drop_check_constraint"
table = "post"
name = "ck_post_user_id_positive"'
            up_flask="op.create_check_constraint('ck_post_user_id_positive', 'post', 'user_id > 0')"
            down_flask="op.drop_constraint('ck_post_user_id_positive', 'post', type_='check')" ;;
        not-null)
            up_ours='op = "alter_column"
table = "post"
column = "user_id"
nullable = false
online = true'
            down_ours='op = "alter_column"
table = "post"
column = "user_id"
nullable = true'
            up_flask="op.alter_column('post', 'user_id', existing_type=sa.Integer(), nullable=False)"
            down_flask="op.alter_column('post', 'user_id', existing_type=sa.Integer(), nullable=True)" ;;
    esac
    rm -f "$ours_repo"/versions/1ive*.toml "$work"/flask-app/migrations/versions/live*.py
    printf 'revision = "1ive00000001"\ndown_revision = "%s"\nmessage = "%s"\n\n[[upgrade]]\n%s\n\n[[downgrade]]\n%s\n' \
        "$ours_head" "$name" "$up_ours" "$down_ours" >"$ours_repo/versions/1ive00000001_case.toml"
    printf '"""%s"""\nfrom alembic import op\nimport sqlalchemy as sa\n\nrevision = "live00000001"\ndown_revision = "%s"\nbranch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n    %s\n\n\ndef downgrade():\n    %s\n' \
        "$name" "$flask_head" "$up_flask" "$down_flask" >"$work/flask-app/migrations/versions/live00000001_case.py"
}

# load KIND SERVER CASE URL [h2load args]: requests for $LOAD seconds, each logged with its
# start, status and time (h2load --log-file); those that never finished, counted.
load() {
    local kind=$1 server=$2 name=$3 url=$4
    shift 4
    local file="$work/h2load-$kind-$server-$name"
    # A request with no answer for 30 s is given up (as a browser would), and counted.
    timeout -s INT $((LOAD + 60)) h2load --h1 -D "$LOAD" -N 30s --log-file="$file.log" "$@" "$url" \
        >"$file.out" 2>&1 || true
    echo "requests $kind $server $name $file.log" >>"$log"
    local unfinished
    # requests: T total, S started, D done, OK succeeded, F failed, E errored, O timeout
    unfinished=$(awk '/^requests:/ {print $12}' "$file.out")
    echo "unfinished $kind $server $name ${unfinished:-0}" >>"$log"
}

# serve SERVER: starts the server on port 18700, waits for /index.
serve() {
    if [ "$1" = ours ]; then
        (cd "$work" && DATABASE_URL=$ours_url SECRET_KEY=benchmark exec "$microblog" run --port 18700) \
            >"$work/server.log" 2>&1 &
    else
        (cd "$work/flask-app" && DATABASE_URL=$flask_url exec "$VENV/bin/gunicorn" -w 2 -b 127.0.0.1:18700 microblog:app) \
            >"$work/server.log" 2>&1 &
    fi
    server_pid=$!
    for _ in $(seq 100); do
        curl -sf -o /dev/null http://127.0.0.1:18700/index && return 0
        sleep 0.2
    done
    echo "the $1 server did not start: $(tail -n 5 "$work/server.log")" >&2
    exit 1
}

run_case() {
    local server=$1 name=$2 holder_pid=
    step "$name, $server"
    serve "$server"
    load reads "$server" "$name" http://127.0.0.1:18700/index -c16 &
    local readers=$!
    local writers
    if [ "$server" = ours ]; then
        local cookie token
        cookie=$(bench/login.sh http://127.0.0.1:18700)
        token=$(curl -s -H "Cookie: $cookie" http://127.0.0.1:18700/index | grep -o 'name="csrf_token" value="[^"]*"' | sed 's/.*value="//;s/"$//')
        printf 'csrf_token=%s&post=written+while+migrating' "$token" >"$work/post.form"
        load writes "$server" "$name" http://127.0.0.1:18700/index -c4 -d "$work/post.form" \
            -H "Cookie: $cookie" -H "Content-Type: application/x-www-form-urlencoded" &
        writers=$!
    else
        echo "INSERT INTO post (body, timestamp, user_id) VALUES ('written while migrating', now(), 1 + (random() * 999)::int);" >"$work/insert.sql"
        (cd "$work" && rm -f pgbench_log.* && pgbench -n -c4 -j1 -T "$LOAD" -l -f insert.sql "$(pg_url live_flask)" >"$work/pgbench.out" 2>&1 || true) &
        writers=$!
    fi
    sleep "$BEFORE"
    if [ "$name" = add-column-while-held ]; then
        local db=live_ours
        [ "$server" = flask ] && db=live_flask
        (echo "BEGIN; SELECT count(*) FROM post;"; sleep "$HOLD"; echo "COMMIT;") | pg_psql -d "$db" >/dev/null &
        holder_pid=$!
        sleep 0.5
    fi
    local t0 t1 status=ok
    t0=$(now)
    if [ "$server" = ours ]; then
        # A revision run side by side (NOT NULL waits for the contract) is finished here.
        { DATABASE_URL=$ours_url "$microblog" db -d "$ours_repo" upgrade \
            && DATABASE_URL=$ours_url "$microblog" db -d "$ours_repo" contract; } >"$work/upgrade.out" 2>&1 || status=failed
    else
        flask db upgrade >"$work/upgrade.out" || status=failed
    fi
    t1=$(now)
    echo "upgrade $server $name $t0 $t1 $status" >>"$log"
    sed "s/^/  upgrade: /" "$work/upgrade.out" | tail -n 8 >&2
    wait "$readers"
    wait "$writers" || true
    if [ "$server" = flask ]; then
        cat "$work"/pgbench_log.* >"$work/pgbench-$server-$name.log" 2>/dev/null || true
        echo "pgbench $server $name $work/pgbench-$server-$name.log" >>"$log"
        echo "unfinished writes $server $name $(grep -c 'aborted' "$work/pgbench.out" || true)" >>"$log"
    fi
    [ -n "$holder_pid" ] && wait "$holder_pid" || true
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    if [ "$server" = ours ]; then
        DATABASE_URL=$ours_url "$microblog" db -d "$ours_repo" downgrade >/dev/null 2>&1
    else
        flask db downgrade >/dev/null
    fi
}

for name in ${CASES:-index add-column-while-held unique foreign-key check not-null}; do
    write_case "$name"
    for server in ours flask; do
        run_case "$server" "$name"
    done
done
rm -f "$ours_repo"/versions/1ive*.toml "$work"/flask-app/migrations/versions/live*.py

python3 bench/live_window.py "$log" >>"$out"
echo "elapsed: $(($(date +%s) - started)) s" >>"$out"
python3 bench/report_live.py "$out" docs/benchmarks-live.md
step "done: $out, docs/benchmarks-live.md"
