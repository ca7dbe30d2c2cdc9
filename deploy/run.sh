#!/usr/bin/env bash
# deploy/run.sh — run the whole system on this machine, without Docker.
#
#   deploy/run.sh                 start in the background; if it is already
#                                 running, stop it instead (a second invocation stops it)
#   deploy/run.sh start           start (no-op when already running)
#   deploy/run.sh stop            stop what an earlier start started
#   deploy/run.sh status          show what runs and what /api/v1/health answers
#   deploy/run.sh --foreground    start, stream the logs, Ctrl-C stops everything
#
# Start: installs missing Debian packages (deploy/deps.sh build), builds the
# three binaries (CMake, RelWithDebInfo: -O2 -g -DNDEBUG) into build/, starts a
# private PostgreSQL (deploy/pg.sh, state in .state/), applies the migrations
# (`storesvc migrate`), starts storesvc, authsvc and gateway on 127.0.0.1, and
# waits until GET /api/v1/health answers 200.
#
# State (all under .state/ in the checkout, git-ignored):
#   jwt_secret   generated JWT_SECRET_KEY (0600), reused across runs
#   totp_key     generated TOTP_ENCRYPTION_KEY (0600, 64 hex digits), reused across runs
#   objects/     the local object store (OBJECT_STORE_URL=file://<checkout>/.state/objects)
#   logs/        storesvc.log authsvc.log gateway.log (JSON lines; previous run in *.log.1)
#   pids/        <service>.pid: "pid starttime executable", checked before any signal
#   pg*          the PostgreSQL cluster (see deploy/pg.sh), log in .state/pg.log
#
# Environment knobs: RESTC_STATE_DIR, RESTC_BUILD_DIR (default build/),
# RESTC_PG_PORT (55432), RESTC_START_TIMEOUT (60 s), RESTC_SKIP_DEPS=1,
# RESTC_SKIP_BUILD=1. Any service variable from the README (GATEWAY_BIND,
# LOG_LEVEL, ...) set in the environment is passed through; DATABASE_URL set
# in the environment means "use that database" and no private PostgreSQL is
# started. Secrets only reach the service that needs them: JWT_SECRET_KEY,
# TOTP_ENCRYPTION_KEY, OWNER_PASSWORD and SMTP_PASSWORD go to authsvc, DATABASE_URL and
# S3_SECRET_ACCESS_KEY to storesvc. The object store is the local directory
# .state/objects unless OBJECT_STORE_URL (e.g. s3://bucket with the S3_*
# variables) says otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
STATE=$(realpath -m -- "${RESTC_STATE_DIR:-$ROOT/.state}")
BUILD=$(realpath -m -- "${RESTC_BUILD_DIR:-$ROOT/build}")
PG_PORT=${RESTC_PG_PORT:-55432}
START_TIMEOUT=${RESTC_START_TIMEOUT:-60}
LOG_DIR=$STATE/logs
PID_DIR=$STATE/pids
SERVICES=(storesvc authsvc gateway) # start order; stop order is the reverse

log() { echo "run.sh: $*" >&2; }
die() {
  log "$*"
  exit 1
}

# ---------------------------------------------------------------- processes

# Prints the start time (clock ticks since boot) of a pid, or nothing.
proc_starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) } # fields after "pid (comm) "; comm may hold spaces
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

# Succeeds if the pid file names a live process that is still the one we
# started: same start time and same executable as argv[0] (pid reuse safe).
pidfile_alive() {
  local file=$1 pid start exe argv0 state
  [[ -f "$file" ]] || return 1
  read -r pid start exe <"$file" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
  [[ -n "$state" && "$state" != Z && "$state" != X ]] || return 1
  [[ "$(proc_starttime "$pid")" == "$start" ]] || return 1
  argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -n 1)
  [[ "$argv0" == "$exe" ]]
}

service_pid() {
  local pid _
  read -r pid _ <"$PID_DIR/$1.pid"
  echo "$pid"
}

any_running() {
  local svc
  for svc in "${SERVICES[@]}"; do
    pidfile_alive "$PID_DIR/$svc.pid" && return 0
  done
  [[ -f "$PID_DIR/postgres.managed" ]] && "$ROOT/deploy/pg.sh" status "$STATE" >/dev/null 2>&1 && return 0
  return 1
}

# SIGTERM, wait for the grace period, then SIGKILL. Only for our own pids.
stop_service() {
  local svc=$1 file=$PID_DIR/$1.pid pid grace i
  if ! pidfile_alive "$file"; then
    rm -f "$file"
    return 0
  fi
  pid=$(service_pid "$svc")
  grace=$((${SHUTDOWN_GRACE_SECONDS:-30} + 5))
  log "stopping $svc (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    pidfile_alive "$file" || break
    sleep 0.1
  done
  if pidfile_alive "$file"; then
    log "$svc did not exit within ${grace}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$file"
}

stop_all() {
  local i
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
    stop_service "${SERVICES[i]}"
  done
  if [[ -f "$PID_DIR/postgres.managed" ]]; then
    "$ROOT/deploy/pg.sh" stop "$STATE" 9>&- || true
    rm -f "$PID_DIR/postgres.managed"
  fi
  log "stopped"
}

# start_service NAME EXE [VAR=value...]: starts EXE in its own session
# (so a terminal's Ctrl-C does not reach it), appending to logs/NAME.log.
start_service() {
  local name=$1 exe=$2 logf=$LOG_DIR/$1.log pid
  shift 2
  [[ -x "$exe" ]] || die "$exe not built"
  (
    cd "$ROOT"
    exec 9>&- # the run.lock descriptor must not outlive this script
    for kv in "$@"; do export "${kv?}"; done
    # setsid execs in place (this subshell is not a process-group leader),
    # so $! below stays the service's pid.
    exec setsid "$exe" >>"$logf" 2>&1 </dev/null
  ) &
  pid=$!
  echo "$pid $(proc_starttime "$pid") $exe" >"$PID_DIR/$name.pid"
  # Until the exec chain reaches $exe, /proc/<pid>/cmdline still shows bash.
  for _ in $(seq 1 100); do
    pidfile_alive "$PID_DIR/$name.pid" || ! kill -0 "$pid" 2>/dev/null && break
    sleep 0.02
  done
  log "started $name (pid $pid, log ${logf#"$ROOT"/})"
}

show_logs() {
  local f
  for f in "$LOG_DIR"/storesvc.log "$LOG_DIR"/authsvc.log "$LOG_DIR"/gateway.log "$STATE/pg.log"; do
    [[ -f "$f" ]] || continue
    echo "----- last lines of ${f#"$ROOT"/} -----" >&2
    tail -n 25 "$f" >&2 || true
  done
}

fail_start() {
  log "$*"
  show_logs
  stop_all
  exit 1
}

# ------------------------------------------------------------------- config

health_url() {
  local bind=${GATEWAY_BIND:-127.0.0.1:8000} host port
  host=${bind%:*}
  port=${bind##*:}
  [[ -z "$host" || "$host" == 0.0.0.0 || "$host" == '*' ]] && host=127.0.0.1
  echo "http://$host:$port"
}

# Succeeds if something accepts TCP connections on host:port.
port_busy() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# Refuses to start when a port we are about to bind is taken: the health
# check could otherwise be answered by someone else's server.
check_ports() {
  local url hostport ep
  url=$(health_url)
  hostport=${url#http://}
  if port_busy "${hostport%:*}" "${hostport##*:}"; then
    die "something already listens on $hostport (GATEWAY_BIND); stop it or set GATEWAY_BIND"
  fi
  for ep in "$AUTHSVC_BIND" "$STORESVC_BIND"; do
    [[ "$ep" == tcp://* ]] || continue
    hostport=${ep#tcp://}
    [[ "${hostport%:*}" == 0.0.0.0 || "${hostport%:*}" == '*' ]] && hostport=127.0.0.1:${hostport##*:}
    if port_busy "${hostport%:*}" "${hostport##*:}"; then
      die "something already listens on $hostport (${ep}); stop it or change the *_BIND variable"
    fi
  done
}

http_code() {
  curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
}

jwt_secret() {
  local f=$STATE/jwt_secret
  if [[ ! -s "$f" ]]; then
    (
      umask 077
      head -c 48 /dev/urandom | base64 -w0 | tr -d '=+/' >"$f"
    )
    log "generated JWT_SECRET_KEY in ${f#"$ROOT"/}"
  fi
  chmod 0600 "$f"
  cat "$f"
}

# The key that seals stored TOTP secrets: 32 random bytes as 64 hex digits.
# Losing it makes every enabled second factor unusable (backup codes too).
totp_key() {
  local f=$STATE/totp_key
  if [[ ! -s "$f" ]]; then
    (
      umask 077
      head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n' >"$f"
    )
    log "generated TOTP_ENCRYPTION_KEY in ${f#"$ROOT"/}"
  fi
  chmod 0600 "$f"
  cat "$f"
}

# ------------------------------------------------------------------- start

build() {
  if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$BUILD" -j "$(nproc)" --target storesvc authsvc gateway
}

do_start() {
  local jwt totp db_url url svc code="" deadline

  if any_running; then
    log "already running ($(health_url)); stop with: deploy/run.sh stop"
    return 0
  fi
  # Interrupted half-way: stop whatever was started so far.
  trap 'fail_start "interrupted"' INT TERM
  [[ "${RESTC_SKIP_DEPS:-0}" == 1 ]] || "$ROOT/deploy/deps.sh" build
  [[ "${RESTC_SKIP_BUILD:-0}" == 1 ]] || build

  export GATEWAY_BIND=${GATEWAY_BIND:-127.0.0.1:8000}
  export AUTHSVC_BIND=${AUTHSVC_BIND:-tcp://127.0.0.1:7001}
  export STORESVC_BIND=${STORESVC_BIND:-tcp://127.0.0.1:7002}
  export AUTHSVC_ENDPOINTS=${AUTHSVC_ENDPOINTS:-$AUTHSVC_BIND}
  export STORESVC_ENDPOINTS=${STORESVC_ENDPOINTS:-$STORESVC_BIND}
  export OBJECT_STORE_URL=${OBJECT_STORE_URL:-file://$STATE/objects}
  export LOG_LEVEL=${LOG_LEVEL:-INFO}
  check_ports

  mkdir -p "$LOG_DIR" "$PID_DIR" "$STATE/objects"
  for svc in "${SERVICES[@]}"; do
    [[ -f "$LOG_DIR/$svc.log" ]] && mv -f "$LOG_DIR/$svc.log" "$LOG_DIR/$svc.log.1"
  done

  # Secrets: kept out of the exported environment, handed to one service each.
  jwt=${JWT_SECRET_KEY:-$(jwt_secret)}
  totp=${TOTP_ENCRYPTION_KEY:-$(totp_key)}
  if [[ -n "${DATABASE_URL:-}" ]]; then
    db_url=$DATABASE_URL
    log "using DATABASE_URL from the environment (no private PostgreSQL)"
  else
    touch "$PID_DIR/postgres.managed"
    db_url=$("$ROOT/deploy/pg.sh" start "$STATE" "$PG_PORT" 9>&-) || fail_start "PostgreSQL did not start"
  fi
  owner_pw=${OWNER_PASSWORD:-}
  s3_secret=${S3_SECRET_ACCESS_KEY:-}
  smtp_pw=${SMTP_PASSWORD:-}
  unset JWT_SECRET_KEY TOTP_ENCRYPTION_KEY DATABASE_URL OWNER_PASSWORD S3_SECRET_ACCESS_KEY SMTP_PASSWORD

  log "applying migrations"
  (cd "$ROOT" && DATABASE_URL=$db_url S3_SECRET_ACCESS_KEY=$s3_secret "$BUILD/storesvc/storesvc" migrate) \
    >>"$LOG_DIR/storesvc.log" 2>&1 </dev/null || fail_start "storesvc migrate failed"

  start_service storesvc "$BUILD/storesvc/storesvc" "DATABASE_URL=$db_url" \
    "S3_SECRET_ACCESS_KEY=$s3_secret"
  start_service authsvc "$BUILD/authsvc/authsvc" "JWT_SECRET_KEY=$jwt" "TOTP_ENCRYPTION_KEY=$totp" \
    "OWNER_PASSWORD=$owner_pw" \
    "SMTP_PASSWORD=$smtp_pw"
  start_service gateway "$BUILD/gateway/gateway"

  url=$(health_url)
  log "waiting for $url/api/v1/health (up to ${START_TIMEOUT}s)"
  deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    for svc in "${SERVICES[@]}"; do
      pidfile_alive "$PID_DIR/$svc.pid" || fail_start "$svc exited during start"
    done
    code=$(http_code "$url/api/v1/health")
    [[ "$code" == 200 ]] && break
    sleep 0.5
  done
  [[ "$code" == 200 ]] || fail_start "health check did not answer 200 within ${START_TIMEOUT}s (last: ${code:-none})"
  trap - INT TERM

  echo
  echo "restc is up: $url   (health: curl $url/api/v1/health)"
  echo "logs: ${LOG_DIR#"$ROOT"/}/   stop: deploy/run.sh stop   (or run deploy/run.sh again)"
}

do_status() {
  local svc pid url code rc=0
  for svc in "${SERVICES[@]}"; do
    if pidfile_alive "$PID_DIR/$svc.pid"; then
      pid=$(service_pid "$svc")
      echo "$svc: running (pid $pid)"
    else
      echo "$svc: not running"
      rc=3
    fi
  done
  if [[ -f "$PID_DIR/postgres.managed" ]]; then
    if url=$("$ROOT/deploy/pg.sh" status "$STATE" 2>/dev/null); then
      echo "postgres: running ($url)"
    else
      echo "postgres: not running"
      rc=3
    fi
  fi
  url=$(health_url)
  code=$(http_code "$url/api/v1/health")
  [[ "$code" == 000 || -z "$code" ]] && code="no answer"
  echo "health: $url/api/v1/health -> $code"
  return "$rc"
}

# Foreground: start, stream the logs, stop everything on Ctrl-C / SIGTERM or
# when a service dies.
do_foreground() {
  local svc tail_pid=""
  if any_running; then
    die "already running in the background; stop it first: deploy/run.sh stop"
  fi
  do_start
  # The lock is only for start/stop; release it so `deploy/run.sh stop` works.
  flock -u 9
  cleanup() {
    trap - INT TERM
    [[ -n "$tail_pid" ]] && kill "$tail_pid" 2>/dev/null
    echo >&2
    flock 9
    stop_all
    exit "${1:-0}"
  }
  trap 'cleanup 0' INT TERM
  echo "foreground mode: Ctrl-C stops everything"
  tail -n 0 -F "$LOG_DIR"/storesvc.log "$LOG_DIR"/authsvc.log "$LOG_DIR"/gateway.log 9>&- &
  tail_pid=$!
  while :; do
    for svc in "${SERVICES[@]}"; do
      if [[ ! -f "$PID_DIR/$svc.pid" ]]; then
        log "stopped by another deploy/run.sh"
        cleanup 0
      elif ! pidfile_alive "$PID_DIR/$svc.pid"; then
        log "$svc is no longer running"
        cleanup 1
      fi
    done
    sleep 1
  done
}

# -------------------------------------------------------------------- main

mode=${1:-toggle}
case "$mode" in
  toggle | start | stop | status | --foreground | -f) ;;
  -h | --help)
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *) die "unknown argument '$mode' (start|stop|status|--foreground)" ;;
esac

if [[ "$mode" == status ]]; then
  do_status
  exit $?
fi

mkdir -p "$STATE"
chmod 0755 "$STATE"
exec 9>"$STATE/run.lock"
flock -n 9 || die "another deploy/run.sh is busy with $STATE"

case "$mode" in
  toggle)
    if any_running; then
      log "already running: stopping it"
      stop_all
    else
      do_start
    fi
    ;;
  start) do_start ;;
  stop) stop_all ;;
  --foreground | -f) do_foreground ;;
esac
