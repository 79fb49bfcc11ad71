#!/usr/bin/env bash
# bench/login.sh BASE_URL: registers the user `bench` (password `benchmark`) on the server
# at BASE_URL if it is not there yet, logs in, and prints the session cookie as
# `session=…`. Prints nothing when the server has no login page (the floor).
set -euo pipefail
base=$1
jar=$(mktemp)
trap 'rm -f "$jar"' EXIT
token() { grep -o 'name="csrf_token" value="[^"]*"' | sed 's/.*value="//;s/"$//' || true; }
t=$(curl -s -c "$jar" -b "$jar" "$base/register" | token)
[ -n "$t" ] || exit 0
curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf_token=$t" \
    -d "username=bench&email=bench@example.com&password=benchmark&password2=benchmark" "$base/register"
t=$(curl -s -c "$jar" -b "$jar" "$base/login" | token)
curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf_token=$t" \
    -d "username=bench&password=benchmark" "$base/login"
awk '$6=="session"{print "session=" $7}' "$jar"
