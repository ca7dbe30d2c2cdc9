# tests/bench/lib.sh — shared pieces of the benchmark scripts (sourced).
#
# Provides: log/die, prerequisite and build checks, a temp dir with cleanup
# of exactly what was started (pids, nginx, the private PostgreSQL), free
# loopback ports, wait_http, start_stack (PostgreSQL + storesvc + authsvc +
# gateway with extra settings), start_services/stop_services (restart the
# three on the same ports and database with other settings), run_wrk
# (req/s, p50, p99, errors into the RPS/P50/P99/ERRS/NON2XX maps, in NAMES
# order) and to_ms.
# The sourcing script sets BENCH_NAME first.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
BUILD=$(realpath -m -- "${RESTC_BUILD_DIR:-$ROOT/build}")

log() { echo "$BENCH_NAME: $*" >&2; }
die() {
  log "$*"
  exit 1
}

need_commands() { # need_commands CMD... : dies naming what is missing
  local missing=() c
  for c in "$@"; do command -v "$c" >/dev/null || missing+=("$c"); done
  ((${#missing[@]} == 0)) || die "missing: ${missing[*]}; install with: deploy/deps.sh bench (as root)"
}

# build_targets TARGET... : builds them in $BUILD (RelWithDebInfo) unless
# RESTC_SKIP_BUILD=1; refuses Debug and sanitizer builds (BENCH_ALLOW_DEBUG=1).
build_targets() {
  if [[ "${RESTC_SKIP_BUILD:-0}" != 1 ]]; then
    if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
      log "configuring $BUILD (RelWithDebInfo)"
      cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    fi
    log "building $* in $BUILD"
    timeout 900 cmake --build "$BUILD" -j "$(nproc)" --target "$@" >/dev/null || die "build failed"
  fi
  BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
  SANITIZE=$(sed -n 's/^SANITIZE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
  if [[ "${BENCH_ALLOW_DEBUG:-0}" != 1 ]] && [[ "$BUILD_TYPE" == Debug || "$SANITIZE" == ON ]]; then
    die "$BUILD is a ${BUILD_TYPE:-?} build (SANITIZE=${SANITIZE:-OFF}); benchmark a release build (or BENCH_ALLOW_DEBUG=1)"
  fi
}

# ------------------------------------------------------------------- cleanup

TMP=$(mktemp -d /tmp/restc-bench.XXXXXX)
chmod 0755 "$TMP"
PIDS=()
NGINX_PID=""
PG_STARTED=0
CLEANUP_HOOKS=() # commands run first at exit (e.g. stopping the FastAPI peer)

stop_pid() { # stop_pid PID SIGNAL : waits up to 10 s, then SIGKILL
  local pid=$1 sig=$2
  kill "-$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? i h
  trap - EXIT INT TERM
  for h in "${CLEANUP_HOOKS[@]}"; do eval "$h" >/dev/null 2>&1 || true; done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}" TERM; done
  [[ -n "$NGINX_PID" ]] && stop_pid "$NGINX_PID" QUIT
  ((PG_STARTED)) && { "$ROOT/deploy/pg.sh" destroy "$TMP/state" >/dev/null 2>&1 || true; }
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    log "kept $TMP (logs: $TMP/*.log)"
  else
    rm -rf -- "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --------------------------------------------------------------------- ports

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
TAKEN=" "
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    [[ "$TAKEN" == *" $p "* ]] && continue
    port_busy "$p" && continue
    TAKEN+="$p "
    echo "$p"
    return 0
  done
  die "no free port"
}

wait_http() { # wait_http URL SECONDS -> 0 when it answers 200
  local url=$1 secs=$2 code
  for _ in $(seq 1 $((secs * 10))); do
    code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null || true)
    [[ "$code" == 200 ]] && return 0
    sleep 0.1
  done
  return 1
}

# --------------------------------------------------------------------- stack

# start_stack [VAR=value...] : a private PostgreSQL, storesvc, authsvc and
# gateway on free ports; the settings go to every service (each reads what
# it knows). Sets GW (the base URL) and DB_URL. BENCH_OBJECT_STORE_URL
# replaces storesvc's local object directory (with S3_* among the settings).
# Metrics listeners are off unless a setting names METRICS_PORT (fixed
# default ports would collide with another stack on the machine).
start_stack() {
  local pg_port
  pg_port=$(free_port)
  STORE_PORT=$(free_port)
  AUTH_PORT=$(free_port)
  HTTP_PORT=$(free_port)
  log "starting PostgreSQL on $pg_port"
  PG_STARTED=1
  DB_URL=$(timeout 180 "$ROOT/deploy/pg.sh" start "$TMP/state" "$pg_port" 2>"$TMP/pg-start.log") ||
    die "deploy/pg.sh start failed: $(cat "$TMP/pg-start.log")"
  mkdir -p "$TMP/objects"
  STACK_JWT=$(head -c 48 /dev/urandom | base64 -w0)
  local extra=()
  read -r -a extra <<<"${BENCH_ENV:-}" # e.g. BENCH_ENV="GATEWAY_THREADS=8 AUTHSVC_WORKERS=8"
  STACK_ENV=(env -i "PATH=$PATH" "LANG=C.UTF-8" "LOG_LEVEL=${BENCH_LOG_LEVEL:-INFO}"
    "SHUTDOWN_GRACE_SECONDS=5" "METRICS_PORT=off" "$@" "${extra[@]}")
  DATABASE_URL=$DB_URL timeout 60 "$BUILD/storesvc/storesvc" migrate >"$TMP/migrate.log" 2>&1 ||
    die "storesvc migrate failed: $(tail -n 5 "$TMP/migrate.log")"
  start_services
}

# start_services [VAR=value...] : (re)starts storesvc, authsvc and gateway of
# the stack start_stack made, on the same ports and database, with its
# settings plus these (later ones win). Logs go to $TMP/<service>.log
# (appended). Sets SERVICE_PIDS.
start_services() {
  SERVICE_PIDS=()
  "${STACK_ENV[@]}" "$@" "STORESVC_BIND=tcp://127.0.0.1:$STORE_PORT" "DATABASE_URL=$DB_URL" \
    "OBJECT_STORE_URL=${BENCH_OBJECT_STORE_URL:-file://$TMP/objects}" "$BUILD/storesvc/storesvc" \
    >>"$TMP/storesvc.log" 2>&1 </dev/null &
  PIDS+=($!)
  SERVICE_PIDS+=($!)
  "${STACK_ENV[@]}" "$@" "AUTHSVC_BIND=tcp://127.0.0.1:$AUTH_PORT" \
    "STORESVC_ENDPOINTS=tcp://127.0.0.1:$STORE_PORT" "JWT_SECRET_KEY=$STACK_JWT" "$BUILD/authsvc/authsvc" \
    >>"$TMP/authsvc.log" 2>&1 </dev/null &
  PIDS+=($!)
  SERVICE_PIDS+=($!)
  "${STACK_ENV[@]}" "$@" "GATEWAY_BIND=127.0.0.1:$HTTP_PORT" "AUTHSVC_ENDPOINTS=tcp://127.0.0.1:$AUTH_PORT" \
    "STORESVC_ENDPOINTS=tcp://127.0.0.1:$STORE_PORT" "$BUILD/gateway/gateway" >>"$TMP/gateway.log" 2>&1 </dev/null &
  PIDS+=($!)
  SERVICE_PIDS+=($!)
  GW=http://127.0.0.1:$HTTP_PORT
  wait_http "$GW/api/v1/health" 60 || die "gateway health not 200 within 60s; logs in $TMP (BENCH_KEEP=1 keeps them)"
}

# stop_services : SIGTERM to the services start_services started, in
# reverse order, waiting for each (PostgreSQL keeps running).
stop_services() {
  local i
  for ((i = ${#SERVICE_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${SERVICE_PIDS[i]}" TERM; done
  SERVICE_PIDS=()
}

# ---------------------------------------------------------------------- wrk

# to_ms "1.23ms" -> 1.23
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
    printf "%.2f", n }'
}

declare -A RPS P50 P99 ERRS NON2XX
NAMES=()
# run_wrk NAME URL [wrk args...] : uses $THREADS, $CONNS, $DURATION
run_wrk() {
  local name=$1 url=$2 out
  shift 2
  log "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency${*:+ $(printf "%q " "$@")} $url"
  out=$(timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency "$@" "$url" 2>&1) ||
    die "wrk failed against $url: $out"
  echo "$out" >"$TMP/wrk-${#NAMES[@]}.txt"
  NAMES+=("$name")
  RPS[$name]=$(awk '/^Requests\/sec:/ {printf "%.1f", $2}' <<<"$out")
  P50[$name]=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  P99[$name]=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  ERRS[$name]=$(sed -n 's/^ *Socket errors: *//p' <<<"$out")
  ERRS[$name]=${ERRS[$name]:-none}
  NON2XX[$name]=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  NON2XX[$name]=${NON2XX[$name]:-0}
}

machine_line() {
  local cpu
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}; build: $BUILD (${BUILD_TYPE:-?}); $(date -u +%Y-%m-%d)"
}
