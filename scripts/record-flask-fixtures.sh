#!/usr/bin/env bash
# Records the SQL the Flask original's own `flask db upgrade` runs on each database
# (Alembic's offline mode writes exactly the statements it runs), as the fixtures of
# tests/flask_databases.rs. Needs the peers kit's virtualenv (../shared/peers/flask-microblog/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
app="${FLASK_APP_DIR:-../shared/peers/flask-microblog}"
venv="${VENV:-${TMPDIR:-/tmp}/microblog-peers/venv}"
out="$PWD/tests/fixtures/flask-migrate"
mkdir -p "$out"
for kind in sqlite postgresql mysql; do
    case "$kind" in
        sqlite) url="sqlite:////tmp/unused.db" ;;
        postgresql) url="postgresql+psycopg://postgres@127.0.0.1/unused" ;;
        mysql) url="mysql+pymysql://root@127.0.0.1/unused" ;;
    esac
    {
        echo "-- Recorded by scripts/record-flask-fixtures.sh: \`flask db upgrade --sql\` of the Flask original."
        (cd "$app" && DATABASE_URL="$url" FLASK_APP=microblog.py "$venv/bin/flask" db upgrade --sql 2>/dev/null)
    } > "$out/$kind.sql"
    echo "wrote $out/$kind.sql"
done
