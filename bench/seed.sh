#!/usr/bin/env bash
# Builds the benchmark kit's database for this server (OURS_SEED_CMD in ../shared/peers):
# this binary's migrations make the schema at $DB, then the rows of the kit's database
# $SRC_DB (made by Flask's migrations) are copied in.
set -euo pipefail
DATABASE_URL="sqlite:///$DB" target/release/microblog db upgrade >/dev/null
sqlite3 "$DB" "ATTACH '$SRC_DB' AS s;
  INSERT INTO user (id, username, email, password_hash) SELECT id, username, email, password_hash FROM s.user;
  INSERT INTO post (id, body, timestamp, user_id) SELECT id, body, timestamp, user_id FROM s.post;"
