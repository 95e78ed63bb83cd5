#!/bin/sh
# Runs the postgres CDC tests against the Debian PostgreSQL 15 binaries, if present:
# a throw-away cluster (wal_level=logical) started as the `postgres` user, used through
# TRUEUP_TEST_DATABASE_URL; the tests that restart a source cluster of their own start it from
# the same binaries (TRUEUP_TEST_PG_BIN). Usage: sh test/connectors/postgres/run-pg15.sh
set -eu
BIN=/usr/lib/postgresql/15/bin
if [ ! -x "$BIN/postgres" ]; then echo "skipping: no PostgreSQL 15 binaries in $BIN"; exit 0; fi
DIR=$(mktemp -d /tmp/trueup-pg15-XXXXXX); chmod 777 "$DIR"
PORT=${PG15_PORT:-55415}
AS=""; [ "$(id -u)" = 0 ] && AS="runuser -u postgres --"
echo trueup > "$DIR/pw"; chmod 644 "$DIR/pw"
$AS "$BIN/initdb" -D "$DIR/data" -U trueup --pwfile="$DIR/pw" -A scram-sha-256 --no-sync >/dev/null
$AS "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o "-p $PORT -k $DIR -c wal_level=logical -c max_replication_slots=64 -c max_wal_senders=64 -c max_connections=200 -c listen_addresses=127.0.0.1" start >/dev/null
trap '$AS "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null; rm -rf "$DIR"' EXIT
TRUEUP_TEST_PG_BIN="$BIN" TRUEUP_TEST_DATABASE_URL="postgres://trueup:trueup@127.0.0.1:$PORT/postgres" npx vitest run test/connectors/postgres
