#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, listening on loopback only.
#   pg_cluster.sh start DIR PORT [PASSWORD_FILE]
#                                  create the cluster in DIR if needed, start it, create database "factory";
#                                  with PASSWORD_FILE the postgres user needs that password (else: trust)
#   pg_cluster.sh stop DIR         stop it (fast shutdown)
#   pg_cluster.sh default-dir DATA_DIR
#                                  where `make run` keeps the cluster of FACTORY_DATA_DIR=DATA_DIR
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$bindir" ] || bindir=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
if [ ! -x "$bindir/initdb" ]; then
  echo "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and PATH)." >&2
  echo "Install them (Debian: apt-get install postgresql) or set DATABASE_URL to an existing server." >&2
  exit 1
fi

as_owner() {
  # initdb and postgres refuse to run as root; use the postgres account then.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local dir=$1 port=$2 pwfile=${3:-}
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
      echo "The postgres account cannot reach $dir (a parent folder is private)." >&2
      echo "Set FACTORY_PG_DIR to a folder it can reach, e.g. FACTORY_PG_DIR=/var/tmp/factory-pg" >&2
      exit 1
    fi
  fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    if [ -n "$pwfile" ]; then
      # initdb reads the password file as the postgres account: hand it a copy it can read.
      local readable
      readable=$(mktemp /tmp/factory-initdb-pw.XXXXXX)
      cp "$pwfile" "$readable"
      if [ "$(id -u)" = 0 ]; then chown postgres "$readable"; fi
      as_owner "$bindir/initdb" -D "$dir" -U postgres --auth=scram-sha-256 --pwfile="$readable" --encoding=UTF8 \
        --no-sync >/dev/null
      rm -f "$readable"
    else
      as_owner "$bindir/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --no-sync >/dev/null
    fi
  fi
  if ! as_owner "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_owner "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -c unix_socket_directories= -c listen_addresses=127.0.0.1 ${PG_EXTRA_OPTS:-}" \
      start >/dev/null || { tail -n 20 "$dir/server.log" >&2; exit 1; }
  fi
  if [ -n "$pwfile" ]; then PGPASSWORD=$(cat "$pwfile"); export PGPASSWORD; fi
  if ! as_owner env PGPASSWORD="${PGPASSWORD:-}" "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='factory'" postgres | grep -q 1; then
    as_owner env PGPASSWORD="${PGPASSWORD:-}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres factory
  fi
}

stop() {
  local dir=$1
  [ -f "$dir/postmaster.pid" ] || return 0
  as_owner "$bindir/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
}

default_dir() {
  # As root the server runs as `postgres`, which cannot enter a private home
  # folder such as /root; use a folder it can reach, one per data dir.
  local data_dir=$1
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$data_dir" 2>/dev/null; then
    echo "/var/tmp/factory-pg-$(printf '%s' "$data_dir" | md5sum | cut -c1-8)"
  else
    echo "$data_dir/postgres"
  fi
}

case "${1:-}" in
  start) start "$2" "$3" "${4:-}" ;;
  stop) stop "$2" ;;
  default-dir) default_dir "$2" ;;
  *) echo "usage: $0 start DIR PORT [PASSWORD_FILE] | stop DIR | default-dir DATA_DIR" >&2; exit 2 ;;
esac
