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
#      settings (GATEWAY_THREADS 2, LOG_LEVEL INFO: one access-log line per
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

BENCH_NAME=bench_http.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
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
((DURATION <= 60)) || die "-d at most 60"

need_commands wrk curl
NGINX=$(command -v nginx || true)
[[ -z "$NGINX" && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
[[ -n "$NGINX" ]] || die "missing: nginx; install with: deploy/deps.sh bench (as root)"
build_targets gateway authsvc storesvc
[[ "${RESTC_SKIP_BUILD:-0}" == 1 ]] || timeout 300 cmake --build "$BUILD" -j "$(nproc)" --target rpc_bench >/dev/null 2>&1 ||
  log "rpc_bench did not build; skipping the RPC benchmark"

# --------------------------------------------------------------------- nginx

NGX_PORT=$(free_port)
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

start_stack

# ------------------------------------------------------------ keep-alive check

reuse=$(curl -sv -o /dev/null -o /dev/null "$GW/healthz" "$GW/healthz" 2>&1 | grep -ci 're-using existing connection' || true)
if [[ "$reuse" -ge 1 ]]; then
  KEEPALIVE="reused (curl: second request on the same connection)"
else
  KEEPALIVE="NOT reused (curl opened a new connection: the server closed it)"
fi

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
echo
machine_line
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, keep-alive; nginx worker_processes $NGINX_WORKERS;"
echo "gateway defaults (GATEWAY_THREADS 2, LOG_LEVEL ${BENCH_LOG_LEVEL:-INFO}); keep-alive: $KEEPALIVE"
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
