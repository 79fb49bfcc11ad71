#!/usr/bin/env bash
# Runs the benchmark kit in ../shared/peers with this server plugged in (see its README).
# Pass QUICK=1 for a smoke run. Build first: cargo build --release.
set -euo pipefail
cd "$(dirname "$0")/.."
export OURS_SEED_CMD='bench/seed.sh'
export OURS_CMD='DATABASE_URL="sqlite:///$DB" SECRET_KEY=benchmark exec target/release/microblog run --port "$PORT"'
exec ../shared/peers/bench/run-all.sh
