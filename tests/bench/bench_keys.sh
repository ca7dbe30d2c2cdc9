#!/usr/bin/env bash
# tests/bench/bench_keys.sh — GET /api/v1/users/me authenticated by an API
# key (X-API-Key) next to the same route with a bearer token, in the same
# run on the same stack:
#
#   tests/bench/bench_keys.sh [-d SECONDS] [-c CONNECTIONS]
#
# BENCH_ROUNDS (3) interleaved rounds of each (bearer, key, bearer, key ...),
# the best round of each reported, and their ratio (goal: within 10 %).
# Both paths are one auth.authorize hop (token or key, then the owner's
# cached state) and one store.user_get; rate limiting is off
# (RATE_LIMIT_PER_MINUTE=0), API_KEY_LAST_USED_INTERVAL_SECONDS is the
# default (60 s: one write per key and minute). Needs wrk and curl
# (deploy/deps.sh bench).
set -euo pipefail

BENCH_NAME=bench_keys.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DURATION=${BENCH_DURATION:-10}
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
[[ "$CONNS" =~ ^[1-9][0-9]{0,3}$ ]] || die "-c must be 1..9999"

need_commands wrk curl
build_targets gateway authsvc storesvc
PY=/usr/bin/python3
USERNAME=bench_keys
PASSWORD='Bench-Pw-2026!k'

start_stack RATE_LIMIT_PER_MINUTE=0 REGISTER_RATE_LIMIT_PER_MINUTE=0 COOKIE_SECURE=false

json_field() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
code=$(curl -s -o "$TMP/reg.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "{\"username\":\"$USERNAME\",\"email\":\"bench-keys@example.com\",\"password\":\"$PASSWORD\"}" \
  "$GW/api/v1/auth/register")
[[ "$code" == 201 ]] || die "register: HTTP $code $(cat "$TMP/reg.json")"
TOKEN=$(curl -s -H 'Content-Type: application/json' \
  -d "{\"username\":\"$USERNAME\",\"password\":\"$PASSWORD\"}" "$GW/api/v1/auth/token" | json_field access_token)
KEY=$(curl -s -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
  -d '{"name":"bench"}' "$GW/api/v1/auth/api-keys" | json_field key)
for h in "Authorization: Bearer $TOKEN" "X-API-Key: $KEY"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "$h" "$GW/api/v1/users/me")
  [[ "$code" == 200 ]] || die "GET /users/me with ${h%%:*}: HTTP $code"
done

ROUNDS=${BENCH_ROUNDS:-3}
best() { # best PREFIX NAME : copies the round with the most req/s to NAME
  local prefix=$1 name=$2 r top=""
  for ((r = 1; r <= ROUNDS; r++)); do
    if [[ -z "$top" ]] || awk -v a="${RPS["$prefix $r"]}" -v b="${RPS[$top]}" 'BEGIN { exit !(a > b) }'; then
      top="$prefix $r"
    fi
  done
  NAMES+=("$name")
  RPS[$name]=${RPS[$top]} P50[$name]=${P50[$top]} P99[$name]=${P99[$top]}
  ERRS[$name]=${ERRS[$top]} NON2XX[$name]=${NON2XX[$top]}
}
for ((r = 1; r <= ROUNDS; r++)); do
  run_wrk "bearer $r" "$GW/api/v1/users/me" -H "Authorization: Bearer $TOKEN"
  run_wrk "key $r" "$GW/api/v1/users/me" -H "X-API-Key: $KEY"
done
best "bearer" "GET /users/me, bearer token (best of $ROUNDS)"
best "key" "GET /users/me, X-API-Key (best of $ROUNDS)"

echo
machine_line
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, keep-alive; RATE_LIMIT_PER_MINUTE=0"
echo
printf '%-44s %10s %9s %9s  %-8s %s\n' target req/s p50_ms p99_ms non-2xx "socket errors"
for n in "${NAMES[@]}"; do
  printf '%-44s %10s %9s %9s  %-8s %s\n' "$n" "${RPS[$n]}" "${P50[$n]}" "${P99[$n]}" "${NON2XX[$n]}" "${ERRS[$n]}"
done
echo
b="GET /users/me, bearer token (best of $ROUNDS)" k="GET /users/me, X-API-Key (best of $ROUNDS)"
awk -v a="${RPS[$k]}" -v b="${RPS[$b]}" 'BEGIN { printf "key / bearer: %.2f x req/s (goal 0.90 .. 1.10)\n", a / b }'
