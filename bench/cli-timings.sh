#!/usr/bin/env bash
# bench/cli-timings.sh DATA_DIR: the command line's timings (hyperfine medians), one line each:
#   cli NAME median_ms=… runs=…
# `db upgrade` on a new SQLite database, this binary's and `flask db upgrade` (the kit's
# Flask app); `db current` and `db check` on DATA_DIR/ours.db; and from start to the first
# answer of /index.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
source ../shared/peers/bench/common.sh
data=$1
microblog="$(pwd)/target/release/microblog"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# time NAME RUNS PREPARE COMMAND
time_it() {
    hyperfine -N --style none --warmup 1 --runs "$2" --prepare "$3" --export-json "$scratch/t.json" "$4" >/dev/null 2>&1 \
        || hyperfine --style none --warmup 1 --runs "$2" --prepare "$3" --export-json "$scratch/t.json" "$4" >/dev/null
    python3 -c "import json,sys; r=json.load(open('$scratch/t.json'))['results'][0]; print(f\"cli $1 median_ms={r['median']*1000:.1f} runs={len(r['times'])}\")"
}
fresh="sqlite:///$scratch/fresh.db"
time_it ours_db_upgrade_new_database 20 "rm -f $scratch/fresh.db" \
    "env DATABASE_URL=$fresh $microblog db upgrade"
time_it flask_db_upgrade_new_database 5 "rm -f $scratch/fresh.db" \
    "env -C $APP FLASK_APP=microblog.py DATABASE_URL=$fresh $VENV/bin/flask db upgrade"
time_it ours_db_current 20 "true" "env DATABASE_URL=sqlite:///$data/ours.db $microblog db current"
time_it ours_db_check 20 "true" "env DATABASE_URL=sqlite:///$data/ours.db $microblog db check"
# start to first response: five starts, the median
times=()
for _ in 1 2 3 4 5; do
    port=$((19100 + RANDOM % 500))
    t0=$(date +%s%N)
    DATABASE_URL="sqlite:///$data/ours.db" SECRET_KEY=benchmark "$microblog" run --port "$port" >/dev/null 2>&1 &
    pid=$!
    until curl -s -o /dev/null "http://127.0.0.1:$port/index"; do sleep 0.002; done
    times+=($((($(date +%s%N) - t0) / 1000)))
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
echo "cli ours_start_to_first_response median_ms=$(echo "scale=1; $median / 1000" | bc) runs=5"
