#!/usr/bin/env bash
# tests/bench/bench_auth.sh — the authentication path, measured next to its
# references in the same run:
#
#   tests/bench/bench_auth.sh [-d SECONDS] [--no-peer]
#
#   1. logins/s (POST /api/v1/auth/token, correct password, 16 connections)
#      against the Argon2 bound: argon2_bench verifications/s with the same
#      library, parameters and number of threads as authsvc's hashing lane
#      (AUTHSVC_HASH_WORKERS, default 2), run just before; and the peer's
#      logins/s at the same Argon2 parameters right after (goal >= 1.5 x);
#   2. authenticated GET /api/v1/users/me, 64 connections (gateway ->
#      authsvc auth.authorize -> storesvc store.user_get -> PostgreSQL), next
#      to the same route of the FastAPI reference: a FastAPI implementation
#      of the same HTTP API that is not part of this repository, found at
#      BENCH_PEER_DIR (a directory outside this repository; the default is
#      the path our team keeps it at; --no-peer without it) (its run.sh: uvicorn, 2 workers, its own PostgreSQL with the same
#      fsync=off settings), BENCH_ROUNDS (3) interleaved rounds each, the
#      best round of each reported;
#   3. /users/me while 64 connections flood /auth/token (p99 under load);
#   4. limiter_bench: memory per tracked source, 1,000,000 distinct sources.
#
# Needs wrk, curl (deploy/deps.sh bench) and for the peer the Debian
# packages its README lists (BENCH_PEER_DEPS=1 installs them with apt) and
# npm (its run.sh installs s3rver). Argon2 runs with the docs/API.md defaults
# (t=3, m=65536 KiB, p=4); rate limiting is off for the measurement
# (RATE_LIMIT_PER_MINUTE=0, as the peer is asked to do on its side).
set -euo pipefail

BENCH_NAME=bench_auth.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DURATION=${BENCH_DURATION:-10}
THREADS=2
PEER=1
HASH_WORKERS=${AUTHSVC_HASH_WORKERS:-2}
PEER_DIR=$(realpath -m -- "${BENCH_PEER_DIR:-$ROOT/../shared/peer/fastapi}")

while (($#)); do
  case "$1" in
    -d) DURATION=$2; shift 2 ;;
    --no-peer) PEER=0; shift ;;
    *) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[1-9][0-9]?$ ]] || die "-d must be 1..99 seconds"

need_commands wrk curl
build_targets gateway authsvc storesvc argon2_bench limiter_bench
SYS_BUILD=${BENCH_SYSARGON2_BUILD:-$ROOT/build-sysargon2}
if [[ "${RESTC_SKIP_BUILD:-0}" != 1 || ! -x "$SYS_BUILD/tests/bench/argon2_bench" ]]; then
  log "building argon2_bench on Debian's libargon2 in $SYS_BUILD"
  cmake -S "$ROOT" -B "$SYS_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRESTC_ARGON2=system >/dev/null
  timeout 900 cmake --build "$SYS_BUILD" -j "$(nproc)" --target argon2_bench >/dev/null ||
    die "build of $SYS_BUILD failed"
fi
PY=/usr/bin/python3
USERNAME=bench_user
PASSWORD='Bench-Pw-2026!x'

# ---------------------------------------------------------------- our stack

start_stack RATE_LIMIT_PER_MINUTE=0 REGISTER_RATE_LIMIT_PER_MINUTE=0 LOGIN_MAX_FAILURES=1000 \
  "AUTHSVC_HASH_WORKERS=$HASH_WORKERS" GATEWAY_SLOW_WORKERS=32 COOKIE_SECURE=false

json_field() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# register_and_login BASE_URL -> prints an access token
register_and_login() {
  local base=$1 code
  code=$(curl -s -o "$TMP/reg.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"username\":\"$USERNAME\",\"email\":\"bench@example.com\",\"password\":\"$PASSWORD\"}" \
    "$base/api/v1/auth/register")
  [[ "$code" == 201 ]] || die "register at $base: HTTP $code $(cat "$TMP/reg.json")"
  curl -s -H 'Content-Type: application/json' \
    -d "{\"username\":\"$USERNAME\",\"password\":\"$PASSWORD\"}" "$base/api/v1/auth/token" |
    json_field access_token
}
TOKEN=$(register_and_login "$GW")

cat >"$TMP/login.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"$USERNAME","password":"$PASSWORD"}'
EOF

# ------------------------------------------------------------ the FastAPI peer

PEER_NOTE="not measured (--no-peer)"
if ((PEER)); then
  PEER_PORT=$(free_port)
  export PEER_PORT PEER_STATE_DIR=$TMP/peer
  if [[ "${BENCH_PEER_DEPS:-0}" == 1 ]]; then
    apt-get install -y -q python3-fastapi python3-uvicorn python3-starlette python3-jwt python3-argon2 \
      python3-asyncpg python3-boto3 python3-multipart python3-httptools python3-uvloop >/dev/null
    command -v npm >/dev/null || apt-get install -y -q nodejs npm >/dev/null
  fi
  CLEANUP_HOOKS+=("PEER_PORT=$PEER_PORT PEER_STATE_DIR=$TMP/peer bash '$PEER_DIR/stop.sh' --purge")
  log "starting the FastAPI peer on $PEER_PORT"
  if JWT_SECRET_KEY=$(head -c 32 /dev/urandom | base64) RATE_LIMIT_PER_MINUTE=0 \
    REGISTER_RATE_LIMIT_PER_MINUTE=1000 LOGIN_MAX_FAILURES=1000 timeout 300 bash "$PEER_DIR/run.sh" >"$TMP/peer-run.log" 2>&1; then
    PEER_URL=http://127.0.0.1:$PEER_PORT
    PEER_TOKEN=$(register_and_login "$PEER_URL")
    PEER_NOTE="measured"
  else
    PEER_NOTE="did not start: $(tail -n 3 "$TMP/peer-run.log" | tr '\n' ' ')"
  fi
fi

# ---------------------------------------------- users/me, ours and the peer

# ROUNDS interleaved rounds, ours then the peer's; the best round of each
# is reported (other load on the machine only ever slows a run down).
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=64
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
  run_wrk "ours /users/me $r" "$GW/api/v1/users/me" -H "Authorization: Bearer $TOKEN"
  [[ "$PEER_NOTE" == measured ]] &&
    run_wrk "peer /users/me $r" "$PEER_URL/api/v1/users/me" -H "Authorization: Bearer $PEER_TOKEN"
done
best "ours /users/me" "ours: GET /users/me (best of $ROUNDS)"
[[ "$PEER_NOTE" == measured ]] && best "peer /users/me" "peer: GET /users/me (best of $ROUNDS)"

# ------------------------------------------------ logins/s vs the Argon2 bound

log "argon2_bench --threads $HASH_WORKERS (t=3 m=65536 p=4)"
BOUND_JSON=$(timeout 120 "$BUILD/tests/bench/argon2_bench" --threads "$HASH_WORKERS" --seconds "$DURATION" --t 3 --m 65536 --p 4)
BOUND=$("$PY" -c 'import json,sys; print("%.2f" % json.loads(sys.argv[1])["verifies_per_s"])' "$BOUND_JSON")
log "argon2_bench on Debian's libargon2 --threads $HASH_WORKERS"
SYS_BOUND_JSON=$(timeout 120 "$SYS_BUILD/tests/bench/argon2_bench" --threads "$HASH_WORKERS" --seconds "$DURATION" --t 3 --m 65536 --p 4)
SYS_BOUND=$("$PY" -c 'import json,sys; print("%.2f" % json.loads(sys.argv[1])["verifies_per_s"])' "$SYS_BOUND_JSON")
CONNS=16
run_wrk "ours: POST /auth/token (logins)" "$GW/api/v1/auth/token" -s "$TMP/login.lua"
LOGIN_RATIO=$(awk -v a="${RPS["ours: POST /auth/token (logins)"]}" -v b="$BOUND" 'BEGIN { printf "%.2f", a / b }')
PEER_LOGIN_RATIO="peer not measured"
if [[ "$PEER_NOTE" == measured ]]; then
  run_wrk "peer: POST /auth/token (logins)" "$PEER_URL/api/v1/auth/token" -s "$TMP/login.lua"
  # Only answered logins count (a refusal costs no hash): req/s minus the
  # non-2xx answers per second, for both sides.
  PEER_LOGIN_RATIO=$(awk -v a="${RPS["ours: POST /auth/token (logins)"]}" \
    -v an="${NON2XX["ours: POST /auth/token (logins)"]}" \
    -v b="${RPS["peer: POST /auth/token (logins)"]}" \
    -v bn="${NON2XX["peer: POST /auth/token (logins)"]}" -v d="$DURATION" \
    'BEGIN { oa = a - an / d; ob = b - bn / d;
             printf "%.2f x (goal >= 1.5; successful logins/s %.1f vs %.1f)", oa / (ob > 0 ? ob : 1e-9), oa, ob }')
fi


# ---------------------------------------------- /users/me during a login flood

log "login flood (64 connections) with /users/me measured at the same time"
timeout $((DURATION + 40)) wrk -t1 -c64 -d"$((DURATION + 4))s" --timeout 10s -s "$TMP/login.lua" \
  "$GW/api/v1/auth/token" >"$TMP/flood.txt" 2>&1 &
FLOOD=$!
sleep 2
THREADS=1 CONNS=8 run_wrk "ours: GET /users/me during login flood" "$GW/api/v1/users/me" \
  -H "Authorization: Bearer $TOKEN"
wait "$FLOOD" || true
FLOOD_RPS=$(awk '/^Requests\/sec:/ {printf "%.1f", $2}' "$TMP/flood.txt")

# ---------------------------------------------------------------- limiter_bench

LIMITER=$(timeout 120 "$BUILD/tests/bench/limiter_bench" --sources 1000000 --max-keys 100000)

# ------------------------------------------------------------------- report

echo
machine_line
echo "Argon2id t=3 m=65536 KiB p=4, AUTHSVC_HASH_WORKERS=$HASH_WORKERS; wrk --latency, keep-alive"
echo
printf '%-44s %10s %9s %9s  %-8s %s\n' target req/s p50_ms p99_ms non-2xx "socket errors"
for n in "${NAMES[@]}"; do
  [[ "$n" =~ \ [0-9]+$ ]] && continue # a single round: its best-of row stands for it
  printf '%-44s %10s %9s %9s  %-8s %s\n' "$n" "${RPS[$n]}" "${P50[$n]}" "${P99[$n]}" "${NON2XX[$n]}" "${ERRS[$n]}"
done
echo
echo "Argon2 bound: $BOUND verifications/s on $HASH_WORKERS threads ($BOUND_JSON)"
echo "Debian's generic libargon2: $SYS_BOUND verifications/s ($SYS_BOUND_JSON)"
echo "logins/s / bound = $LOGIN_RATIO   (goal >= 0.90); logins/s vs the peer: $PEER_LOGIN_RATIO"
echo "login flood meanwhile: $FLOOD_RPS logins/s"
ours="ours: GET /users/me (best of $ROUNDS)" peer="peer: GET /users/me (best of $ROUNDS)"
if [[ "$PEER_NOTE" == measured ]]; then
  awk -v a="${RPS[$ours]}" -v b="${RPS[$peer]}" -v pa="${P99[$ours]}" -v pb="${P99[$peer]}" \
    'BEGIN { printf "users/me vs peer: %.2f x req/s (goal >= 3), %.2f x p99 (goal <= 0.3)\n", a / b, pa / pb }'
else
  echo "peer: $PEER_NOTE"
fi
echo
echo "$LIMITER"
