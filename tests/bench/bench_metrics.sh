#!/usr/bin/env bash
# tests/bench/bench_metrics.sh — what metrics cost: requests/s of the whole
# stack with METRICS_PORT on (all three services) against off, in one run.
#
#   tests/bench/bench_metrics.sh [-d SECONDS] [-c CONNECTIONS] [-t THREADS] [-r ROUNDS]
#
# Needs wrk and curl (deploy/deps.sh bench) and the PostgreSQL server
# (deploy/deps.sh build). Installs nothing itself.
#
# What it does, all on 127.0.0.1 and under one temp dir (removed at the end;
# BENCH_KEEP=1 keeps it, with the service logs):
#   1. builds gateway, authsvc and storesvc (RelWithDebInfo) unless
#      RESTC_SKIP_BUILD=1 (see lib.sh)
#   2. starts one stack (private PostgreSQL, storesvc, authsvc, gateway;
#      RATE_LIMIT_PER_MINUTE=0 so the API rate limit does not cap the
#      rate; LOG_LEVEL INFO: the access line and the per-request rpc lines
#      are measured in both modes), registers a user and logs in
#   3. ROUNDS times (default 3), alternating so that drift of a shared
#      machine falls on both: restarts the three services with
#      METRICS_PORT=off, runs wrk on GET /healthz (gateway only) and
#      GET /api/v1/users/me (gateway -> authsvc auth.authorize -> storesvc
#      on a cache miss), then restarts them with METRICS_PORT=0 (each its
#      own ephemeral listener) and runs the same, scraping every /metrics
#      once per round so the listeners really serve
#   4. prints the best req/s of each mode per endpoint and the ratio on/off
#      (goal: >= 0.97), and Markdown rows for docs/BENCHMARKS.md
#   5. stops everything it started (only those pids), also on Ctrl-C
#
# Runtime: about 2 × 2 × ROUNDS × SECONDS plus restarts (~1.5 min by default).
set -euo pipefail

BENCH_NAME=bench_metrics.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DURATION=${BENCH_DURATION:-8}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
ROUNDS=${BENCH_ROUNDS:-3}

usage() {
  sed -n '2,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while getopts "d:c:t:r:h" opt; do
  case "$opt" in
    d) DURATION=$OPTARG ;;
    c) CONNS=$OPTARG ;;
    t) THREADS=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    *) usage ;;
  esac
done
for v in "$DURATION" "$CONNS" "$THREADS" "$ROUNDS"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || usage
done
((DURATION <= 60 && ROUNDS <= 10)) || die "-d at most 60, -r at most 10"

need_commands wrk curl
PY=$(command -v python3) || die "missing: python3"
build_targets gateway authsvc storesvc

USERNAME=bench_metrics
PASSWORD='Bench-Metrics-Pw-2026!x'
start_stack RATE_LIMIT_PER_MINUTE=0 REGISTER_RATE_LIMIT_PER_MINUTE=0 COOKIE_SECURE=false

json_field() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
code=$(curl -s -o "$TMP/reg.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "{\"username\":\"$USERNAME\",\"email\":\"bench-metrics@example.com\",\"password\":\"$PASSWORD\"}" \
  "$GW/api/v1/auth/register")
[[ "$code" == 201 ]] || die "register: HTTP $code $(cat "$TMP/reg.json")"
# The token stays valid across restarts: same database and JWT key.
TOKEN=$(curl -s -H 'Content-Type: application/json' \
  -d "{\"username\":\"$USERNAME\",\"password\":\"$PASSWORD\"}" "$GW/api/v1/auth/token" | json_field access_token)
[[ -n "$TOKEN" ]] || die "login failed"

# metrics_ports : the ports the running services logged ("metrics listening").
metrics_ports() {
  local svc
  for svc in storesvc authsvc gateway; do
    grep '"msg":"metrics listening"' "$TMP/$svc.log" | tail -n 1 | sed -n 's/.*"port":\([0-9]*\).*/\1/p'
  done
}

scrape_all() { # every service's /metrics answers (a service logs its port just after it serves RPC)
  local p n=0
  for _ in $(seq 1 50); do
    n=0
    for p in $(metrics_ports); do
      # (no pipe into grep -q: under pipefail curl's SIGPIPE would fail it)
      [[ "$(curl -sf -m 5 "http://127.0.0.1:$p/metrics" || true)" == *$'\n'restc_build_info* ]] && n=$((n + 1))
    done
    ((n == 3)) && return 0
    sleep 0.1
  done
  die "expected 3 /metrics listeners, $n answered"
}

for r in $(seq 1 "$ROUNDS"); do
  for mode in off on; do
    stop_services
    : >"$TMP/storesvc.log" >"$TMP/authsvc.log" >"$TMP/gateway.log"
    if [[ $mode == on ]]; then start_services METRICS_PORT=0; else start_services METRICS_PORT=off; fi
    if [[ $mode == on ]]; then
      scrape_all
    else
      [[ -z "$(metrics_ports)" ]] || die "METRICS_PORT=off but a service logged a metrics listener"
    fi
    curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$GW/api/v1/users/me" || die "/users/me failed ($mode)"
    run_wrk "healthz $mode $r" "$GW/healthz"
    run_wrk "users/me $mode $r" "$GW/api/v1/users/me" -H "Authorization: Bearer $TOKEN"
    [[ $mode == on ]] && scrape_all
  done
done

best() { # best PREFIX -> highest req/s among the rounds
  local n b=0
  for n in "${NAMES[@]}"; do
    [[ "$n" == "$1 "* ]] && b=$(awk -v a="${RPS[$n]}" -v b="$b" 'BEGIN { print (a > b ? a : b) }')
  done
  echo "$b"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

echo
machine_line
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, keep-alive; $ROUNDS rounds, off/on alternating;"
echo "default service settings (GATEWAY_THREADS 2, LOG_LEVEL ${BENCH_LOG_LEVEL:-INFO}), RATE_LIMIT_PER_MINUTE=0"
echo
printf '%-22s %10s %9s %9s  %-8s %s\n' run req/s p50_ms p99_ms non-2xx "socket errors"
for n in "${NAMES[@]}"; do
  printf '%-22s %10s %9s %9s  %-8s %s\n' "$n" "${RPS[$n]}" "${P50[$n]}" "${P99[$n]}" "${NON2XX[$n]}" "${ERRS[$n]}"
done
echo
echo "Markdown rows for docs/BENCHMARKS.md ($(date -u +%Y-%m-%d); best of $ROUNDS):"
echo "| endpoint | metrics off, req/s | metrics on, req/s | on / off |"
echo "|---|---|---|---|"
for ep in healthz users/me; do
  off=$(best "$ep off")
  on=$(best "$ep on")
  echo "| \`GET /$([[ $ep == healthz ]] && echo healthz || echo api/v1/users/me)\` | $off | $on | $(ratio "$on" "$off") |"
done
