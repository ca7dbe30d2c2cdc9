#!/usr/bin/env bash
# deploy/pg.sh — a private PostgreSQL 15 cluster for local runs and tests.
#
#   deploy/pg.sh start   <state_dir> [port]   (default port 55432)
#   deploy/pg.sh stop    <state_dir>
#   deploy/pg.sh restart <state_dir> [port]   (default: the port of the last start)
#   deploy/pg.sh status  <state_dir>
#   deploy/pg.sh destroy <state_dir>          stop, then delete the cluster's files
#   deploy/pg.sh gc                           delete /var/tmp/restc-pg-* clusters whose
#                                             state dir is gone (left by deleted temp dirs)
#
# `start` creates the cluster on first use (initdb -U postgres -A trust), starts
# it listening on 127.0.0.1:<port> only, waits for pg_isready, creates the
# database `restc` if missing, and prints exactly one line on stdout:
#
#   postgresql://postgres@127.0.0.1:<port>/restc
#
# (`status` prints the same line when the cluster runs.) Everything else goes
# to stderr, so callers can write  url=$(deploy/pg.sh start "$dir" 55433).
#
# DEV/TEST ONLY: trust authentication on loopback, fsync=off,
# synchronous_commit=off, full_page_writes=off. A crash can lose or corrupt
# this cluster; never point it at data you want to keep.
#
# Where the files live: PostgreSQL refuses to run as root, so as root the
# server runs as the `postgres` user, which must be able to reach the data
# directory. If it can traverse <state_dir> (e.g. /work/checkout/.state), the
# cluster lives in <state_dir>/pg, the socket in <state_dir>/pg-sock and the
# server log in <state_dir>/pg.log. If it cannot (a checkout under /root,
# which is 0700), the three live in /var/tmp/restc-pg-<hash of state_dir>/
# and <state_dir>/pg, pg-sock and pg.log are symlinks to them; the chosen
# directory is recorded in <state_dir>/pg.location either way (and the state
# dir in /var/tmp/restc-pg-<hash>/state.path, for `gc`). Run as a
# non-root user, everything stays under <state_dir> and runs as that user.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DB_NAME=restc
DEFAULT_PORT=55432

log() { echo "pg.sh: $*" >&2; }
die() {
  log "$*"
  exit 1
}
usage() {
  echo "usage: $0 start|stop|restart|status|destroy <state_dir> [port] | $0 gc" >&2
  exit 2
}

# Runs a command as the cluster owner (postgres when we are root), from /
# so that an unreadable cwd (e.g. under /root) does not bother it.
as_owner() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

# Sets PGROOT: the directory holding pg/, pg-sock/ and pg.log (see above).
resolve_pgroot() {
  local state=$1 hash
  if [[ -f "$state/pg.location" ]]; then
    PGROOT=$(<"$state/pg.location")
    [[ -n "$PGROOT" ]] || die "empty $state/pg.location"
    return
  fi
  PGROOT=$state
  # The socket path must fit in sun_path (107 bytes) with ".s.PGSQL.<port>".
  if [[ $EUID -eq 0 ]]; then
    if ! as_owner test -x "$state" || [[ ${#state} -gt 70 ]]; then
      hash=$(printf '%s' "$state" | sha256sum | cut -c1-12)
      PGROOT=/var/tmp/restc-pg-$hash
    fi
  fi
}

# Creates PGROOT (if outside the state dir: safely, since /var/tmp is shared)
# and the symlinks, and records the location.
prepare_pgroot() {
  local state=$1 name
  if [[ "$PGROOT" != "$state" ]]; then
    if [[ -L "$PGROOT" || (-e "$PGROOT" && ! -d "$PGROOT") ]]; then
      die "$PGROOT exists and is not a directory; remove it"
    fi
    if [[ ! -d "$PGROOT" ]]; then
      mkdir -m 0700 "$PGROOT"
    fi
    local owner
    owner=$(stat -c %U "$PGROOT")
    [[ "$owner" == root || "$owner" == postgres ]] || die "$PGROOT is owned by $owner; remove it"
    [[ $EUID -eq 0 ]] && chown postgres:postgres "$PGROOT"
    chmod 0700 "$PGROOT"
    printf '%s\n' "$state" >"$PGROOT/state.path"
    for name in pg pg-sock pg.log; do
      if [[ ! -L "$state/$name" ]]; then
        [[ -e "$state/$name" ]] && die "$state/$name exists but should be a link to $PGROOT/$name"
        ln -s "$PGROOT/$name" "$state/$name"
      fi
    done
  fi
  printf '%s\n' "$PGROOT" >"$state/pg.location"
  mkdir -p "$PGROOT/pg" "$PGROOT/pg-sock"
  touch "$PGROOT/pg.log"
  chmod 0700 "$PGROOT/pg"
  if [[ $EUID -eq 0 ]]; then
    chown postgres:postgres "$PGROOT/pg" "$PGROOT/pg-sock" "$PGROOT/pg.log"
  fi
}

is_running() {
  [[ -f "$PGROOT/pg/PG_VERSION" ]] && as_owner "$PG_BIN/pg_ctl" -D "$PGROOT/pg" status >/dev/null 2>&1
}

# The port of the running cluster: line 4 of postmaster.pid.
running_port() {
  sed -n 4p "$PGROOT/pg/postmaster.pid"
}

url_for() { echo "postgresql://postgres@127.0.0.1:$1/$DB_NAME"; }

cmd_start() {
  local state=$1 port=$2 i
  [[ "$port" =~ ^[0-9]+$ && $port -ge 1 && $port -le 65535 ]] || die "bad port '$port'"
  [[ -x "$PG_BIN/initdb" ]] || die "$PG_BIN/initdb not found; run deploy/deps.sh build"
  mkdir -p "$state"
  chmod go+x "$state" 2>/dev/null || true
  resolve_pgroot "$state"
  prepare_pgroot "$state"

  if [[ ! -f "$PGROOT/pg/PG_VERSION" ]]; then
    log "initdb in $PGROOT/pg"
    as_owner "$PG_BIN/initdb" -D "$PGROOT/pg" -U postgres -A trust -E UTF8 --locale=C \
      --no-instructions >"$PGROOT/initdb.log" 2>&1 || {
      cat "$PGROOT/initdb.log" >&2
      die "initdb failed"
    }
  fi

  if is_running; then
    port=$(running_port)
    log "already running on port $port ($PGROOT/pg)"
  else
    log "starting on 127.0.0.1:$port ($PGROOT/pg, log $state/pg.log)"
    # Settings on the command line (not in postgresql.conf) so the port can
    # change between starts. Dev/test durability settings: see the header.
    if ! as_owner "$PG_BIN/pg_ctl" -D "$PGROOT/pg" -l "$PGROOT/pg.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$PGROOT/pg-sock \
-c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null; then
      tail -n 20 "$PGROOT/pg.log" >&2 || true
      die "pg_ctl start failed (port $port in use?)"
    fi
    echo "$port" >"$state/pg.port"
  fi

  for i in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -t 1 && break
    [[ $i -eq 60 ]] && die "server not ready after 60 s"
    sleep 1
  done

  if [[ -z $(psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") ]]; then
    psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $DB_NAME" >/dev/null
    log "created database $DB_NAME"
  fi
  url_for "$port"
}

cmd_stop() {
  local state=$1
  if [[ ! -d "$state" ]] || { [[ ! -f "$state/pg.location" ]] && [[ ! -e "$state/pg" ]]; }; then
    log "no cluster under $state"
    return 0
  fi
  resolve_pgroot "$state"
  if is_running; then
    as_owner "$PG_BIN/pg_ctl" -D "$PGROOT/pg" -m fast -w -t 60 stop >/dev/null
    log "stopped ($PGROOT/pg)"
  else
    log "not running ($PGROOT/pg)"
  fi
}

cmd_status() {
  local state=$1
  [[ -d "$state" ]] || die "no cluster under $state"
  resolve_pgroot "$state"
  if is_running; then
    url_for "$(running_port)"
  else
    log "not running ($PGROOT/pg)"
    return 3
  fi
}

cmd_destroy() {
  local state=$1 name
  cmd_stop "$state"
  [[ -d "$state" ]] || return 0
  resolve_pgroot "$state"
  if [[ "$PGROOT" != "$state" && "$PGROOT" == /var/tmp/restc-pg-* ]]; then
    rm -rf -- "$PGROOT"
  fi
  for name in pg pg-sock pg.log pg.location pg.port initdb.log; do
    rm -rf -- "${state:?}/$name"
  done
  log "destroyed the cluster of $state"
}

# Removes external clusters whose state dir no longer points at them.
cmd_gc() {
  local dir state
  for dir in /var/tmp/restc-pg-*; do
    [[ -d "$dir" && ! -L "$dir" && -f "$dir/state.path" ]] || continue
    state=$(<"$dir/state.path")
    if [[ -f "$state/pg.location" && "$(<"$state/pg.location")" == "$dir" ]]; then
      continue
    fi
    PGROOT=$dir
    if is_running; then
      as_owner "$PG_BIN/pg_ctl" -D "$PGROOT/pg" -m fast -w -t 60 stop >/dev/null || continue
    fi
    rm -rf -- "$dir"
    log "removed orphaned cluster $dir (state dir $state is gone)"
  done
}

[[ $# -ge 1 ]] || usage
if [[ $1 == gc ]]; then
  cmd_gc
  exit 0
fi
[[ $# -ge 2 ]] || usage
action=$1
# Absolute path without needing the directory to exist yet, so any cwd works.
state=$(realpath -m -- "$2")
case "$action" in
  start) cmd_start "$state" "${3:-$DEFAULT_PORT}" ;;
  stop) cmd_stop "$state" ;;
  restart)
    port=${3:-}
    [[ -n "$port" ]] || port=$(cat "$state/pg.port" 2>/dev/null || echo "$DEFAULT_PORT")
    cmd_stop "$state"
    cmd_start "$state" "$port"
    ;;
  status) cmd_status "$state" ;;
  destroy) cmd_destroy "$state" ;;
  *) usage ;;
esac
