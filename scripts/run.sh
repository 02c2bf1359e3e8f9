#!/usr/bin/env bash
# `make run`: the private PostgreSQL (unless DATABASE_URL is set), migrations, static files, the admin
# login, then the web server (waitress, factory_site/serve.py; `--dev`: Django's runserver, reloading on code changes) and both
# django-q2 clusters (default queue + agent queue), supervised together.
#
# Ctrl-C, SIGTERM or SIGHUP, to this script or to the `make` that started it, stops everything within
# 10 s, prints "Stopped." and exits 0. A server that dies by itself stops the others, and the script
# exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
export FACTORY_DATA_DIR=${FACTORY_DATA_DIR:-$PWD/var}
dev=false
case "${1:-}" in
  --dev) dev=true ;;
  "") ;;
  *) echo "usage: $0 [--dev]" >&2; exit 2 ;;
esac

# Seconds the servers get to finish what they are doing before they are killed: with the database's
# fast shutdown, a stop stays under the 10 s a service manager waits.
STOP_GRACE_S=6

names=() pids=() targets=()  # supervised servers: name, pid (= process group), what a stop signals
own_pg="" step_pid="" step_waits=false sleeper=""

# Set-up steps run in the background, so that a stop request is handled at once, not after them.
step() {
  "$@" &
  step_pid=$!
  wait "$step_pid"
  step_pid=""
}

# Each server runs in its own session: Ctrl-C reaches only this script, which stops them in order,
# and a kill of the process group reaches every process a server started.
serve() {  # serve NAME leader|group COMMAND...
  local name=$1 target=$2
  shift 2
  setsid "$@" &
  names+=("$name") pids+=($!)
  if [ "$target" = group ]; then targets+=("-$!"); else targets+=("$!"); fi
}

alive() { kill -0 -- "$1" 2>/dev/null; }

# The pid too: a server started an instant ago may not have made its own session yet.
running() { alive "${pids[$1]}" || alive "-${pids[$1]}"; }

now_ms() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((t / 1000)); }

stop_servers() {
  local i deadline=$(($(now_ms) + STOP_GRACE_S * 1000)) waiting
  for i in "${!pids[@]}"; do
    # A server whose leader died leaves its children to the group.
    if alive "${pids[$i]}"; then kill -TERM -- "${targets[$i]}"; else kill -TERM -- "-${pids[$i]}"; fi 2>/dev/null || true
  done
  while :; do
    waiting=false
    for i in "${!pids[@]}"; do running "$i" && waiting=true; done
    if ! $waiting || [ "$(now_ms)" -ge "$deadline" ]; then break; fi
    sleep 0.1
  done
  for i in "${!pids[@]}"; do
    if running "$i"; then
      echo "${names[$i]} did not stop within ${STOP_GRACE_S} s (a task was running?): killed."
      kill -KILL -- "-${pids[$i]}" "${pids[$i]}" 2>/dev/null || true
    fi
  done
  wait "${pids[@]}" 2>/dev/null || true
}

stop() {  # stop EXIT_STATUS [WHY]
  trap '' INT TERM HUP
  trap - EXIT
  set +e  # best effort to the end: a closed terminal (SIGHUP) makes even `echo` fail
  if [ -n "${2:-}" ]; then echo "$2"; fi
  if [ -n "$sleeper" ]; then kill "$sleeper" 2>/dev/null || true; fi
  if [ -n "$step_pid" ]; then
    # A database that is starting is let finish, then stopped; any other step is cut short.
    $step_waits || kill -TERM "$step_pid" 2>/dev/null || true
    wait "$step_pid" 2>/dev/null || true
  fi
  if [ ${#pids[@]} -gt 0 ]; then stop_servers; fi
  if [ -n "$own_pg" ]; then bash scripts/pg_cluster.sh stop "$own_pg" || true; fi
  echo "Stopped."
  exit "$1"
}
# shellcheck disable=SC2064  # the signal's name is meant to be expanded now
for signal in INT TERM HUP; do trap "stop 0 'Stopping (SIG$signal).'" "$signal"; done
trap 'stop $?' EXIT

# GNU make passes SIGTERM on to this script, but not SIGINT or SIGHUP: it waits for the script to end,
# then kills itself with the signal. A make that was told to stop no longer catches that signal (it
# reset it to the default), which /proc shows. A make that is gone (killed) stops us too.
parent=$PPID
parent_is_make=false
case "$(cat "/proc/$parent/comm" 2>/dev/null || true)" in make | gmake) parent_is_make=true ;; esac
caught_signals() { sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$parent/status" 2>/dev/null; }
stop_signals=$((0x4003))  # SIGHUP, SIGINT, SIGTERM
make_caught=$(caught_signals || true)
make_stopping() {
  $parent_is_make || return 1
  local now
  [ "$(cut -d' ' -f4 /proc/$$/stat)" = "$parent" ] || return 0
  now=$(caught_signals) || return 0
  (((0x$now & stop_signals) != (0x${make_caught:-0} & stop_signals)))
}

mkdir -p "$FACTORY_DATA_DIR"
if [ -z "${DATABASE_URL:-}" ]; then
  port=${FACTORY_PG_PORT:-55432}
  # A password, so no other local process (model-written tests run unsandboxed
  # included) can use the database; kept beside the data, mode 600.
  pwfile="$FACTORY_DATA_DIR/postgres-password"
  if [ ! -s "$pwfile" ]; then
    (umask 077; $py -c 'import secrets; print(secrets.token_hex(16))' > "$pwfile")
  fi
  own_pg=${FACTORY_PG_DIR:-$(bash scripts/pg_cluster.sh default-dir "$FACTORY_DATA_DIR")}
  step_waits=true
  step bash scripts/pg_cluster.sh start "$own_pg" "$port" "$pwfile"
  step_waits=false
  # Kept beside the password, so `make token` in another shell finds this cluster on any port.
  echo "$port" > "$FACTORY_DATA_DIR/postgres-port"
  DATABASE_URL="postgres://postgres:$(cat "$pwfile")@127.0.0.1:$port/factory"
  export DATABASE_URL
  echo "PostgreSQL: private cluster in $own_pg (127.0.0.1:$port, password in $pwfile)"
fi

step $py manage.py migrate --no-input -v 0
step $py manage.py collectstatic --no-input -v 0
step $py manage.py factory_admin
# Merges an approve pushed but could not record (the server killed mid-approve) are recorded before serving.
step $py manage.py reconcile_merges

addr=${FACTORY_BIND:-127.0.0.1:8000}
if $dev; then
  # The autoreloader runs the server in a child process: stop the whole group.
  serve "Web server (runserver, dev)" group env FACTORY_MEMORY_OWNER=1 $py manage.py runserver "$addr"
else
  # The web server owns the embedded memory index and runs the workers' searches and writes (docs/memory.md).
  serve "Web server" leader env FACTORY_MEMORY_OWNER=1 $py -m factory_site.serve
fi
serve "Default worker" leader $py manage.py qcluster
serve "Agent worker" leader env Q_CLUSTER_NAME=agent $py manage.py qcluster

host=${addr%:*} web_port=${addr##*:}
case "$host" in "" | 0.0.0.0 | "[::]") host=127.0.0.1 ;; "["*"]") host=${host:1:-1} ;; esac
answers() { (exec 3<>"/dev/tcp/$host/$web_port") 2>/dev/null; }

announced=false
while :; do
  for i in "${!pids[@]}"; do
    if ! alive "${pids[$i]}"; then
      status=0
      wait "${pids[$i]}" || status=$?
      stop 1 "${names[$i]} exited by itself (status $status); stopping the rest."
    fi
  done
  if make_stopping; then stop 0 'Stopping (make was told to stop).'; fi
  if ! $announced && answers; then
    announced=true
    echo "Factory running: admin http://$addr/admin/  API http://$addr/api/factory/  docs http://$addr/api/docs/"
    echo "Press Ctrl-C to stop."
  fi
  sleep 0.5 &
  sleeper=$!
  wait "$sleeper" || true
  sleeper=""
done
