#!/usr/bin/env bash
# `make run`: database, migrations, an admin login, then the web server and both
# django-q2 clusters (default queue + agent queue) together; Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
mkdir -p "$FACTORY_DATA_DIR"

pids=()
cleanup() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${own_pg:-}" ]; then bash scripts/pg_cluster.sh stop "$own_pg"; fi
  echo "Stopped."
}
trap cleanup INT TERM EXIT

default_pg_dir() {
  # As root the server runs as `postgres`, which cannot enter a private home
  # folder such as /root; use a folder it can reach, one per data dir.
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$FACTORY_DATA_DIR" 2>/dev/null; then
    echo "/var/tmp/factory-pg-$(printf '%s' "$FACTORY_DATA_DIR" | md5sum | cut -c1-8)"
  else
    echo "$FACTORY_DATA_DIR/postgres"
  fi
}

if [ -z "${DATABASE_URL:-}" ]; then
  own_pg=${FACTORY_PG_DIR:-$(default_pg_dir)}
  port=${FACTORY_PG_PORT:-55432}
  # A password, so no other local process (model-written tests run unsandboxed
  # included) can use the database; kept beside the data, mode 600.
  pwfile="$FACTORY_DATA_DIR/postgres-password"
  if [ ! -s "$pwfile" ]; then
    (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_hex(16))' > "$pwfile")
  fi
  bash scripts/pg_cluster.sh start "$own_pg" "$port" "$pwfile"
  export DATABASE_URL="postgres://postgres:$(cat "$pwfile")@127.0.0.1:$port/factory"
  echo "PostgreSQL: private cluster in $own_pg (127.0.0.1:$port, password in $pwfile)"
fi

$py manage.py migrate --no-input
$py manage.py factory_admin

addr=${FACTORY_BIND:-127.0.0.1:8000}
$py manage.py runserver --noreload "$addr" & pids+=($!)
$py manage.py qcluster & pids+=($!)
Q_CLUSTER_NAME=agent $py manage.py qcluster & pids+=($!)
echo "Factory running: admin http://$addr/admin/  API http://$addr/api/factory/  docs http://$addr/api/docs/"
echo "Press Ctrl-C to stop."
wait -n "${pids[@]}"
