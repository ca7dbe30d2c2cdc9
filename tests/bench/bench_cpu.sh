#!/usr/bin/env bash
# tests/bench/bench_cpu.sh — where the CPU of one request goes: CPU time
# (user + system, from /proc/<pid>/stat) of each process of our stack per
# request served, for authenticated GET /api/v1/users/me and for /healthz.
#
#   tests/bench/bench_cpu.sh [-d SECONDS] [-c CONNECTIONS]
#
# Starts the stack like bench_auth.sh (lib.sh start_stack; BENCH_ENV passes
# extra settings, e.g. BENCH_ENV="GATEWAY_THREADS=16"), registers one user,
# then runs wrk -t2 while sampling the gateway, authsvc, storesvc, every
# PostgreSQL process of its private cluster and wrk itself. On a machine
# whose cores are all busy, the sum of a row bounds the requests per second:
# 1e6 * cores / total_us.
set -euo pipefail

BENCH_NAME=bench_cpu.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DURATION=10
THREADS=2
CONNS=64

while (($#)); do
  case "$1" in
    -d) DURATION=$2; shift 2 ;;
    -c) CONNS=$2; shift 2 ;;
    *) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[1-9][0-9]?$ ]] || die "-d must be 1..99 seconds"

need_commands wrk curl
build_targets gateway authsvc storesvc
PY=/usr/bin/python3

start_stack RATE_LIMIT_PER_MINUTE=0 COOKIE_SECURE=false
STORE_PID=${PIDS[0]} AUTH_PID=${PIDS[1]} GW_PID=${PIDS[2]}

curl -s -o /dev/null -H 'Content-Type: application/json' \
  -d '{"username":"cpu_user","email":"cpu@example.com","password":"Bench-Pw-2026!x"}' \
  "$GW/api/v1/auth/register"
TOKEN=$(curl -s -H 'Content-Type: application/json' \
  -d '{"username":"cpu_user","password":"Bench-Pw-2026!x"}' "$GW/api/v1/auth/token" |
  "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# The private cluster's processes: the postmaster (its command line names
# the data directory under $TMP) and its children.
pg_pids() {
  local pm
  pm=$(pgrep -f -- "-D $TMP/state" | head -n 1 || true)
  [[ -n "$pm" ]] && { echo "$pm"; pgrep -P "$pm" || true; }
}

# ticks PID... -> the sum of utime + stime (clock ticks) of those processes
ticks() {
  local sum=0 pid f
  for pid in "$@"; do
    [[ -r /proc/$pid/stat ]] || continue
    f=$(sed 's/^.*) //' "/proc/$pid/stat") # fields after the command name
    read -r -a a <<<"$f"
    sum=$((sum + a[11] + a[12]))            # utime, stime (fields 14, 15)
  done
  echo "$sum"
}

HZ=$(getconf CLK_TCK)
declare -a ROWS

# measure NAME URL [wrk args...]
measure() {
  local name=$1 url=$2
  shift 2
  mapfile -t pg < <(pg_pids)
  local g0 a0 s0 p0 g1 a1 s1 p1 out wpid w
  g0=$(ticks "$GW_PID") a0=$(ticks "$AUTH_PID") s0=$(ticks "$STORE_PID") p0=$(ticks "${pg[@]}")
  log "wrk -t$THREADS -c$CONNS -d${DURATION}s $url"
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s "$@" "$url" >"$TMP/cpu-wrk.txt" 2>&1 &
  wpid=$!
  sleep "$DURATION"
  w=$(ticks "$wpid") # just before it ends
  wait "$wpid" || die "wrk failed: $(cat "$TMP/cpu-wrk.txt")"
  g1=$(ticks "$GW_PID") a1=$(ticks "$AUTH_PID") s1=$(ticks "$STORE_PID") p1=$(ticks "${pg[@]}")
  local n
  n=$(awk '/requests in/ {print $1}' "$TMP/cpu-wrk.txt")
  ROWS+=("$(awk -v name="$name" -v n="$n" -v hz="$HZ" -v d="$DURATION" \
    -v g=$((g1 - g0)) -v a=$((a1 - a0)) -v s=$((s1 - s0)) -v p=$((p1 - p0)) -v w="$w" 'BEGIN {
      us = 1e6 / hz / n
      printf "%-28s %9.0f %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f", name, n / d, g * us, a * us, s * us,
        p * us, w * us, (g + a + s + p + w) * us }')")
}

measure "GET /api/v1/users/me" "$GW/api/v1/users/me" -H "Authorization: Bearer $TOKEN"
measure "GET /healthz" "$GW/healthz"

echo
machine_line
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, keep-alive; CPU per request in microseconds (user + system)"
echo "${BENCH_ENV:+settings: $BENCH_ENV}"
printf '%-28s %9s %8s %8s %8s %8s %8s %8s\n' target req/s gateway authsvc storesvc postgres wrk total
printf '%s\n' "${ROWS[@]}"
