#!/usr/bin/env bash
# `make test`: the whole suite against a throw-away PostgreSQL cluster.
# FACTORY_TEST_WORKERS (default 4): parallel pytest workers; extra arguments go to pytest (`make test ARGS=...`).
set -euo pipefail
cd "$(dirname "$0")/.."

pgdir=""
FACTORY_DATA_DIR=$(mktemp -d /tmp/factory-test-data.XXXXXX)
export FACTORY_DATA_DIR
# The minimal runner (pytest alone) is built once per machine, not once per throw-away data folder.
export FACTORY_RUNNERS_DIR="${FACTORY_RUNNERS_DIR:-$HOME/.cache/factory/runners}"
cleanup() {
  if [ -n "$pgdir" ]; then bash scripts/pg_cluster.sh stop "$pgdir"; rm -rf "$pgdir"; fi
  rm -rf "$FACTORY_DATA_DIR"
}
trap cleanup EXIT

if [ -z "${DATABASE_URL:-}" ]; then
  pgdir=$(mktemp -d /tmp/factory-test-pg.XXXXXX)
  port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # Durability is pointless for a throw-away database; speed is not.
  PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    bash scripts/pg_cluster.sh start "$pgdir" "$port"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/factory"
fi
# Workers in parallel (pytest-xdist), each on its own clone of one migrated template database (conftest.py).
# The suite mostly waits on servers and subprocesses, so more workers than cores pay off; 0 runs in-process.
# --dist load hands tests out one by one as workers free up, the longest first (conftest.py).
.venv/bin/python -m pytest --numprocesses "${FACTORY_TEST_WORKERS:-4}" --dist load "$@"
