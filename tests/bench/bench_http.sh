#!/usr/bin/env bash
# tests/bench/bench_http.sh — HTTP throughput of the gateway, with nginx as the
# reference, plus the RPC layer against bare libzmq (rpc_bench).
#
#   tests/bench/bench_http.sh [-d SECONDS] [-c CONNECTIONS] [-t THREADS]
#
# Needs wrk and nginx (install them with: deploy/deps.sh bench) and the
# PostgreSQL server (deploy/deps.sh build). Installs nothing itself.
#
# What it does, all on 127.0.0.1 and under one temp dir (removed at the end;
# BENCH_KEEP=1 keeps it, with the service logs):
#   1. builds gateway, authsvc, storesvc and rpc_bench in $RESTC_BUILD_DIR
#      (default build/, CMake RelWithDebInfo = -O2 -g -DNDEBUG) unless
#      RESTC_SKIP_BUILD=1; refuses Debug or sanitizer builds (BENCH_ALLOW_DEBUG=1
#      overrides)
#   2. starts nginx (worker_processes auto, access_log off, `return 200 'ok'`)
#   3. starts its own stack: deploy/pg.sh (private PostgreSQL), storesvc
#      migrate, storesvc, authsvc, gateway on free ports, default service
#      settings (GATEWAY_THREADS 4, LOG_LEVEL INFO: one access-log line per
#      request is part of the measured cost)
#   4. wrk -t2 -c64 -d10s --latency (keep-alive) against nginx, gateway
#      /healthz and gateway /api/v1/health (two ZeroMQ round trips per
#      request: authsvc and storesvc sys.health), then /healthz again with
#      `Connection: close` to show what keep-alive is worth; checks with curl
#      that the gateway really reuses a connection
#   5. rpc_bench (--seconds 3 --clients 4 --workers 2) when it is built
#   6. prints a table (req/s, p50, p99, ratio to nginx, socket errors,
#      non-2xx) and the same rows in Markdown for docs/BENCHMARKS.md
#   7. stops everything it started (only those pids), also on Ctrl-C
#
# Runtime: about 1 minute with the defaults (bounded: every step has a timeout).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
BUILD=$(realpath -m -- "${RESTC_BUILD_DIR:-$ROOT/build}")
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}

usage() {
  sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while getopts "d:c:t:h" opt; do
  case "$opt" in
    d) DURATION=$OPTARG ;;
    c) CONNS=$OPTARG ;;
    t) THREADS=$OPTARG ;;
    *) usage ;;
  esac
done
for v in "$DURATION" "$CONNS" "$THREADS"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || usage
done
((DURATION <= 60)) || { echo "bench_http.sh: -d at most 60" >&2; exit 2; }

log() { echo "bench_http.sh: $*" >&2; }
die() {
  log "$*"
  exit 1
}

# ------------------------------------------------------------- prerequisites

missing=()
command -v wrk >/dev/null || missing+=(wrk)
NGINX=$(command -v nginx || true)
[[ -z "$NGINX" && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
[[ -n "$NGINX" ]] || missing+=(nginx)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  die "missing: ${missing[*]}; install with: deploy/deps.sh bench (as root)"
fi

if [[ "${RESTC_SKIP_BUILD:-0}" != 1 ]]; then
  if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
    log "configuring $BUILD (RelWithDebInfo)"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  log "building in $BUILD"
  timeout 900 cmake --build "$BUILD" -j "$(nproc)" --target gateway authsvc storesvc >/dev/null
  timeout 300 cmake --build "$BUILD" -j "$(nproc)" --target rpc_bench >/dev/null 2>&1 ||
    log "rpc_bench did not build; skipping the RPC benchmark"
fi
for b in gateway authsvc storesvc; do
  [[ -x "$BUILD/$b/$b" ]] || die "$BUILD/$b/$b not built"
done
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
SANITIZE=$(sed -n 's/^SANITIZE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
if [[ "${BENCH_ALLOW_DEBUG:-0}" != 1 ]]; then
  [[ "$BUILD_TYPE" == Debug || "$SANITIZE" == ON ]] &&
    die "$BUILD is a ${BUILD_TYPE:-?} build (SANITIZE=${SANITIZE:-OFF}); benchmark a release build (or BENCH_ALLOW_DEBUG=1)"
fi

# ------------------------------------------------------------------- cleanup

TMP=$(mktemp -d /tmp/restc-bench.XXXXXX)
chmod 0755 "$TMP"
PIDS=()
NGINX_PID=""
PG_STARTED=0

cleanup() {
  local rc=$? pid i
  trap - EXIT INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ -n "$NGINX_PID" ]]; then
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$NGINX_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$NGINX_PID" 2>/dev/null || true
  fi
  if ((PG_STARTED)); then
    "$ROOT/deploy/pg.sh" destroy "$TMP/state" >/dev/null 2>&1 || true
  fi
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
NGX_PORT=$(free_port)
PG_PORT=$(free_port)
STORE_PORT=$(free_port)
AUTH_PORT=$(free_port)
HTTP_PORT=$(free_port)

wait_http() { # wait_http URL SECONDS -> 0 when it answers 200
  local url=$1 secs=$2 code
  for _ in $(seq 1 $((secs * 10))); do
    code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null || true)
    [[ "$code" == 200 ]] && return 0
    sleep 0.1
  done
  return 1
}

# --------------------------------------------------------------------- nginx

NGINX_WORKERS=auto
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGX_PORT;
    location / { default_type text/plain; return 200 'ok'; }
  }
}
EOF
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" >"$TMP/nginx.log" 2>&1 &
NGINX_PID=$!
wait_http "http://127.0.0.1:$NGX_PORT/" 10 || die "nginx did not start: $(cat "$TMP/nginx.log" "$TMP/nginx/error.log" 2>/dev/null)"

# --------------------------------------------------------------------- stack

log "starting PostgreSQL on $PG_PORT"
PG_STARTED=1
DB_URL=$(timeout 180 "$ROOT/deploy/pg.sh" start "$TMP/state" "$PG_PORT" 2>"$TMP/pg-start.log") ||
  die "deploy/pg.sh start failed: $(cat "$TMP/pg-start.log")"
mkdir -p "$TMP/objects"
JWT=$(head -c 48 /dev/urandom | base64 -w0)

common_env=(env -i "PATH=$PATH" "LANG=C.UTF-8" "LOG_LEVEL=${BENCH_LOG_LEVEL:-INFO}" "SHUTDOWN_GRACE_SECONDS=5")
DATABASE_URL=$DB_URL timeout 60 "$BUILD/storesvc/storesvc" migrate >"$TMP/migrate.log" 2>&1 ||
  die "storesvc migrate failed: $(tail -n 5 "$TMP/migrate.log")"

start() { # start NAME VAR=value...
  local name=$1
  shift
  "${common_env[@]}" "$@" "$BUILD/$name/$name" >"$TMP/$name.log" 2>&1 </dev/null &
  PIDS+=($!)
}
start storesvc "STORESVC_BIND=tcp://127.0.0.1:$STORE_PORT" "DATABASE_URL=$DB_URL" \
  "OBJECT_STORE_URL=file://$TMP/objects"
start authsvc "AUTHSVC_BIND=tcp://127.0.0.1:$AUTH_PORT" "STORESVC_ENDPOINTS=tcp://127.0.0.1:$STORE_PORT" \
  "JWT_SECRET_KEY=$JWT"
start gateway "GATEWAY_BIND=127.0.0.1:$HTTP_PORT" "AUTHSVC_ENDPOINTS=tcp://127.0.0.1:$AUTH_PORT" \
  "STORESVC_ENDPOINTS=tcp://127.0.0.1:$STORE_PORT"
GW=http://127.0.0.1:$HTTP_PORT
wait_http "$GW/api/v1/health" 30 || die "gateway health not 200 within 30s; logs in $TMP (BENCH_KEEP=1 keeps them)"

# ------------------------------------------------------------ keep-alive check

reuse=$(curl -sv -o /dev/null -o /dev/null "$GW/healthz" "$GW/healthz" 2>&1 | grep -ci 're-using existing connection' || true)
if [[ "$reuse" -ge 1 ]]; then
  KEEPALIVE="reused (curl: second request on the same connection)"
else
  KEEPALIVE="NOT reused (curl opened a new connection: the server closed it)"
fi

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
run_wrk() { # run_wrk NAME URL [wrk args...]
  local name=$1 url=$2 out
  shift 2
  log "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency${*:+ $(printf "%q " "$@")} $url"
  out=$(timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency "$@" "$url" 2>&1) ||
    die "wrk failed against $url: $out"
  echo "$out" >"$TMP/wrk-${#NAMES[@]}.txt"
  NAMES+=("$name")
  RPS[$name]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
  P50[$name]=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  P99[$name]=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  ERRS[$name]=$(sed -n 's/^ *Socket errors: *//p' <<<"$out")
  ERRS[$name]=${ERRS[$name]:-none}
  NON2XX[$name]=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  NON2XX[$name]=${NON2XX[$name]:-0}
}

run_wrk "nginx return 200" "http://127.0.0.1:$NGX_PORT/"
run_wrk "gateway /healthz" "$GW/healthz"
run_wrk "gateway /api/v1/health" "$GW/api/v1/health"
run_wrk "gateway /healthz, Connection: close" "$GW/healthz" -H "Connection: close"

# ---------------------------------------------------------------- rpc_bench

RPC_OUT=""
if [[ -x "$BUILD/tests/bench/rpc_bench" ]]; then
  log "rpc_bench --seconds 3 --clients 4 --workers 2"
  RPC_OUT=$(timeout 120 "$BUILD/tests/bench/rpc_bench" --seconds 3 --clients 4 --workers 2 2>&1) ||
    RPC_OUT="rpc_bench failed: $RPC_OUT"
else
  RPC_OUT="(rpc_bench not built: $BUILD/tests/bench/rpc_bench)"
fi

# ------------------------------------------------------------------- report

base=${RPS["nginx return 200"]:-0}
ratio() { awk -v a="$1" -v b="$base" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo
echo "machine: $(nproc) CPUs, ${CPU:-unknown CPU}; build: $BUILD (${BUILD_TYPE:-?})"
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, keep-alive; nginx worker_processes $NGINX_WORKERS;"
echo "gateway defaults (GATEWAY_THREADS 4, LOG_LEVEL ${BENCH_LOG_LEVEL:-INFO}); keep-alive: $KEEPALIVE"
echo "(socket 'read' errors are expected on the Connection: close run only: wrk counts each close)"
echo
printf '%-38s %10s %9s %9s %9s  %-10s %s\n' target req/s p50_ms p99_ms vs_nginx non-2xx "socket errors"
for n in "${NAMES[@]}"; do
  printf '%-38s %10s %9s %9s %9s  %-10s %s\n' "$n" "${RPS[$n]}" "${P50[$n]}" "${P99[$n]}" \
    "$(ratio "${RPS[$n]}")" "${NON2XX[$n]}" "${ERRS[$n]}"
done
echo
echo "$RPC_OUT"
echo
echo "Markdown rows for docs/BENCHMARKS.md ($(date -u +%Y-%m-%d)):"
for n in "${NAMES[@]}"; do
  echo "| $n | ${RPS[$n]} | ${P50[$n]} | ${P99[$n]} | $(ratio "${RPS[$n]}") |"
done
