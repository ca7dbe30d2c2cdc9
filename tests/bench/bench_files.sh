#!/usr/bin/env bash
# tests/bench/bench_files.sh — file transfers through the gateway, next to
# the same transfer without it, in the same run:
#
#   tests/bench/bench_files.sh [-s MiB] [--local-only]
#
#   With BENCH_S3_ENDPOINT (http://host:port), BENCH_S3_KEY, BENCH_S3_SECRET
#   (and BENCH_S3_REGION, us-east-1) part 2 runs against that S3 server
#   (MinIO, Ceph's radosgw...) instead of starting s3rver; the bucket
#   bench-files is created there if it is not.
#
#   Every transfer runs once untimed (warm-up), then BENCH_RUNS (5) times;
#   the fastest and the median run are reported, gateway next to direct.
#
#   1. local object store (file://): a -s MiB (50) upload and download with
#      curl through the gateway against `cp` of the same file
#      into and out of the same directory, and `cp` + `sync FILE` (storesvc
#      fsyncs an object before it is published);
#   2. S3 (s3rver from the npm registry, deploy/deps.sh s3): the same
#      through the gateway against the same transfer straight to s3rver
#      with curl (--aws-sigv4) (goal >= 0.7 x both ways): one
#      PUT, and the multipart upload of 5 MiB parts that storesvc makes;
#   3. peak RSS above idle of the gateway and storesvc during 8 concurrent
#      uploads of 5 MiB, of 50 MiB and of 200 MiB files (goal under 100 MiB
#      above idle; memory is bounded by parts, two 5 MiB parts per upload, so
#      from two parts on the file size changes nothing);
#   4. authenticated GET /api/v1/users/me (wrk, 16 connections) while those
#      8 uploads run: req/s and p99.
#
# Needs curl, wrk (deploy/deps.sh bench) and node (deploy/deps.sh s3).
set -euo pipefail

BENCH_NAME=bench_files.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SIZE_MIB=50
LOCAL_ONLY=0
RUNS=${BENCH_RUNS:-5} # timed runs of each transfer
PY=/usr/bin/python3
while (($#)); do
  case "$1" in
    -s) SIZE_MIB=$2; shift 2 ;;
    --local-only) LOCAL_ONLY=1; shift ;;
    *) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[[ "$SIZE_MIB" =~ ^[1-9][0-9]{0,3}$ ]] || die "-s must be 1..9999 MiB"
need_commands curl wrk
build_targets gateway authsvc storesvc

S3RVER_DIR=${RESTC_S3RVER_DIR:-$ROOT/.state/s3rver}
S3_RUN=$ROOT/tests/integration/s3rver_run.js
BUCKET=bench-files
now() { date +%s.%N; }
mibps() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.1f", b / 1048576 / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
json_field() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system, clock ticks
s3_ticks() { if [[ -n "${S3_PID:-}" ]]; then cpu_ticks "$S3_PID"; else echo 0; fi; }

# timed KEY CMD... : one untimed warm-up run of CMD, then $RUNS timed runs;
# R[KEY] is the MiB/s of the fastest run, R[KEY-med] of the median one.
timed() {
  local key=$1 t0 t1 ts=() sorted
  shift
  "$@" >/dev/null || die "failed: $*"
  for ((run = 0; run < RUNS; run++)); do
    t0=$(now)
    "$@" >/dev/null || die "failed: $*"
    t1=$(now)
    ts+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')")
  done
  sorted=$(printf '%s\n' "${ts[@]}" | sort -g)
  R[$key]=$(mibps "$BYTES" "$(head -n 1 <<<"$sorted")")
  R[$key-med]=$(mibps "$BYTES" "$(sed -n "$(((RUNS + 1) / 2))p" <<<"$sorted")")
}

token() {
  curl -s -o /dev/null -H 'Content-Type: application/json' \
    -d '{"username":"bench_files","email":"bench_files@example.com","password":"Bench-Pw-2026!x"}' \
    "$GW/api/v1/auth/register"
  curl -s -H 'Content-Type: application/json' -d '{"username":"bench_files","password":"Bench-Pw-2026!x"}' \
    "$GW/api/v1/auth/token" | json_field access_token
}

up_gw() { # up_gw FILE -> prints the id
  curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/octet-stream' \
    --data-binary "@$1" "$GW/api/v1/files?name=bench.bin" | json_field id
}
down_gw() { curl -sf -o "$TMP/down.bin" -H "Authorization: Bearer $TOKEN" "$GW/api/v1/files/$1/content"; }

DATA=$TMP/data.bin
head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$DATA"
BYTES=$((SIZE_MIB * 1048576))
declare -A R

# peak_rss PID... during CMD : samples VmRSS every 20 ms, prints "pid:peak_kib"
peak_during() {
  local pids=$1
  shift
  "$@" &
  local job=$! p
  declare -A peak
  for p in $pids; do peak[$p]=$(rss_kib "$p"); done
  while kill -0 "$job" 2>/dev/null; do
    for p in $pids; do
      local v
      v=$(rss_kib "$p")
      ((v > peak[$p])) && peak[$p]=$v
    done
    sleep 0.02
  done
  wait "$job"
  for p in $pids; do echo "$p:${peak[$p]}"; done
}

eight_uploads() { # eight_uploads FILE
  local i pids=()
  for i in 1 2 3 4 5 6 7 8; do
    curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/octet-stream' \
      --data-binary "@$1" "$GW/api/v1/files?name=c$i.bin" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || die "an upload of $1 failed"; done
}

measure_stack() { # measure_stack NAME : transfers, then memory and reads under uploads
  local name=$1 id t
  TOKEN=$(token)
  timed "$name-up" up_gw "$DATA"
  id=$(up_gw "$DATA")
  local gw_pid=${PIDS[2]} st_pid=${PIDS[0]} size f c0g c0s
  c0g=$(cpu_ticks "$gw_pid") c0s=$(cpu_ticks "$st_pid") c0o=$(s3_ticks)
  timed "$name-down" down_gw "$id"
  cmp -s "$DATA" "$TMP/down.bin" || die "$name: the download differs from the upload"
  # CPU per download (timed runs it RUNS + 1 times): where the time of a download goes.
  R[$name-down-cpu]=$(awk -v g=$(($(cpu_ticks "$gw_pid") - c0g)) -v s=$(($(cpu_ticks "$st_pid") - c0s)) \
    -v o=$(($(s3_ticks) - c0o)) -v hz="$(getconf CLK_TCK)" \
    -v n=$((RUNS + 1)) 'BEGIN { printf "gateway %.0f ms, storesvc %.0f ms, s3rver %.0f ms", g * 1000 / hz / n, s * 1000 / hz / n, o * 1000 / hz / n }')
  [[ -n "${S3_PID:-}" || $name == local ]] || R[$name-down-cpu]="${R[$name-down-cpu]%, s3rver*} (the S3 server's own: not measured)"
  for size in 5 50 200; do
    f=$TMP/f$size.bin
    head -c $((size * 1048576)) /dev/urandom >"$f"
    local idle_gw idle_st out
    idle_gw=$(rss_kib "$gw_pid")
    idle_st=$(rss_kib "$st_pid")
    out=$(peak_during "$gw_pid $st_pid" eight_uploads "$f")
    R[$name-rss$size-gw]=$(($(sed -n "s/^$gw_pid://p" <<<"$out") - idle_gw))
    R[$name-rss$size-st]=$(($(sed -n "s/^$st_pid://p" <<<"$out") - idle_st))
    [[ $size == 50 ]] || rm -f "$f"
  done
  # /users/me while eight 50 MiB uploads run.
  THREADS=2 CONNS=16 DURATION=6
  (sleep 0.5; eight_uploads "$TMP/f50.bin") &
  local bg=$!
  run_wrk "$name-me" "$GW/api/v1/users/me" -H "Authorization: Bearer $TOKEN"
  wait "$bg" || true
}

# ------------------------------------------------------------------ local

log "local object store, $SIZE_MIB MiB"
MAX_UPLOAD=$(((SIZE_MIB > 200 ? SIZE_MIB : 200) * 1048576))
start_stack RATE_LIMIT_PER_MINUTE=0 REGISTER_RATE_LIMIT_PER_MINUTE=0 COOKIE_SECURE=false \
  "MAX_UPLOAD_BYTES=$MAX_UPLOAD"
measure_stack local
timed cp-in cp "$DATA" "$TMP/objects/cp-copy.bin"
cp_durable() { cp "$DATA" "$TMP/objects/cp-sync.bin" && sync "$TMP/objects/cp-sync.bin"; }
timed cpsync-in cp_durable
timed cp-out cp "$TMP/objects/cp-copy.bin" "$TMP/cp-out.bin"
for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}" TERM; done
PIDS=()
"$ROOT/deploy/pg.sh" destroy "$TMP/state" >/dev/null 2>&1 || true
PG_STARTED=0

# --------------------------------------------------------------------- S3

# The curl options of a signed request to the S3 server. curl signs with
# SigV4 but does not hash a file it uploads: the payload is declared
# unsigned (storesvc signs each part's sha256, a cost it pays).
s3_sig() { sig=(--aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_KEY:$S3_SECRET" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD"); }

if ((LOCAL_ONLY == 0)); then
  S3_REGION=${BENCH_S3_REGION:-us-east-1}
  if [[ -n "${BENCH_S3_ENDPOINT:-}" ]]; then # another S3 server, already running
    S3=$BENCH_S3_ENDPOINT S3_KEY=${BENCH_S3_KEY:?BENCH_S3_KEY} S3_SECRET=${BENCH_S3_SECRET:?BENCH_S3_SECRET}
    S3_NAME=${BENCH_S3_NAME:-$S3}
    s3_sig
    curl -sf "${sig[@]}" -X PUT -o /dev/null "$S3/$BUCKET" || curl -sf "${sig[@]}" -I -o /dev/null "$S3/$BUCKET" ||
      die "cannot create or reach the bucket $BUCKET at $S3"
  else
    [[ -d "$S3RVER_DIR/node_modules/s3rver" ]] || die "s3rver missing: run deploy/deps.sh s3"
    S3_PORT=$(free_port)
    mkdir -p "$TMP/s3"
    node "$S3_RUN" "$S3RVER_DIR" "$TMP/s3" "$BUCKET" "$S3_PORT" >"$TMP/s3rver.log" 2>&1 &
    S3_PID=$!
    CLEANUP_HOOKS+=("kill $S3_PID")
    for _ in $(seq 1 100); do port_busy "$S3_PORT" && break; sleep 0.1; done
    S3=http://127.0.0.1:$S3_PORT S3_KEY=S3RVER S3_SECRET=S3RVER S3_NAME="s3rver on $S3_PORT"
    s3_sig
  fi
  log "S3 ($S3_NAME), $SIZE_MIB MiB"
  BENCH_OBJECT_STORE_URL="s3://$BUCKET" start_stack RATE_LIMIT_PER_MINUTE=0 "MAX_UPLOAD_BYTES=$MAX_UPLOAD" \
    REGISTER_RATE_LIMIT_PER_MINUTE=0 COOKIE_SECURE=false "S3_ENDPOINT_URL=$S3" "S3_REGION=$S3_REGION" \
    "S3_ACCESS_KEY_ID=$S3_KEY" "S3_SECRET_ACCESS_KEY=$S3_SECRET"
  measure_stack s3
  put_s3() { curl -sf "${sig[@]}" -T "$DATA" "$S3/$BUCKET/direct.bin"; }
  get_s3() { curl -sf "${sig[@]}" -o "$TMP/s3-down.bin" "$S3/$BUCKET/direct.bin"; }
  # The same bytes as a multipart upload of 5 MiB parts, one after the
  # other, straight from curl: what storesvc asks of the server
  # ("?uploads=": libcurl 7.88 signs a bare "?uploads" in a form that
  # servers which check signatures, radosgw for one, refuse).
  split -b 5M -d -a 4 "$DATA" "$TMP/piece."
  mp_s3() {
    local key="$S3/$BUCKET/direct-mp.bin" up n=0 etag xml="<CompleteMultipartUpload>" f
    up=$(curl -sf "${sig[@]}" -X POST "$key?uploads=" | sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p')
    [[ -n "$up" ]] || return 1
    for f in "$TMP"/piece.*; do
      n=$((n + 1))
      etag=$(curl -sf "${sig[@]}" -T "$f" -D - -o /dev/null "$key?partNumber=$n&uploadId=$up" |
        tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: *//p')
      [[ -n "$etag" ]] || return 1
      xml+="<Part><PartNumber>$n</PartNumber><ETag>$etag</ETag></Part>"
    done
    curl -sf "${sig[@]}" -X POST -H 'Content-Type: application/xml' --data-binary "$xml</CompleteMultipartUpload>" \
      "$key?uploadId=$up" | grep -q CompleteMultipartUploadResult
  }
  put_s3 >/dev/null || die "the direct PUT to $S3_NAME failed"
  mp_s3 || die "the direct multipart upload to $S3_NAME failed"
  get_s3 && cmp -s "$DATA" "$TMP/s3-down.bin" || die "the direct GET from $S3_NAME differs"
  timed s3direct-up put_s3
  timed s3mp-up mp_s3
  c0o=$(s3_ticks)
  timed s3direct-down get_s3
  R[s3direct-down-cpu]=$(awk -v o=$(($(s3_ticks) - c0o)) -v hz="$(getconf CLK_TCK)" -v n=$((RUNS + 1)) \
    'BEGIN { printf "s3rver %.0f ms", o * 1000 / hz / n }')
  [[ -n "${S3_PID:-}" ]] || R[s3direct-down-cpu]="not measured"
fi

# ---------------------------------------------------------------- report

machine_line
echo "file: $SIZE_MIB MiB; MiB/s of the fastest and of the median of $RUNS runs (after a warm-up run)"
row() { # row LABEL GATEWAY_KEY DIRECT_KEY
  printf '%-30s %8s %8s %6s | %8s %8s %6s\n' "$1" "${R[$2]}" "${R[$3]}" "$(ratio "${R[$2]}" "${R[$3]}")" \
    "${R[$2-med]}" "${R[$3-med]}" "$(ratio "${R[$2-med]}" "${R[$3-med]}")"
}
printf '%-30s %8s %8s %6s | %8s %8s %6s\n' "" "gateway" "direct" "ratio" "gateway" "direct" "ratio"
printf '%-30s %24s | %24s\n' "" "fastest" "median"
row "local upload (vs cp in)" local-up cp-in
row "local upload (vs cp + fsync)" local-up cpsync-in
row "local download (vs cp out)" local-down cp-out
if ((LOCAL_ONLY == 0)); then
  row "S3 upload (vs curl PUT)" s3-up s3direct-up
  row "S3 upload (vs curl multipart)" s3-up s3mp-up
  row "S3 download (vs curl GET)" s3-down s3direct-down
fi
echo "CPU per download: local: ${R[local-down-cpu]}"
((LOCAL_ONLY == 1)) || echo "  S3: ${R[s3-down-cpu]}; direct GET: ${R[s3direct-down-cpu]}"
echo "peak RSS above idle during 8 concurrent uploads (MiB):"
for st in local s3; do
  [[ -n "${R[$st-rss5-gw]:-}" ]] || continue
  mib() { awk -v k="$1" 'BEGIN { print k / 1024 }'; }
  printf '  %-6s gateway 5/50/200 MiB files %6.1f %6.1f %6.1f | storesvc %6.1f %6.1f %6.1f\n' "$st" \
    "$(mib "${R[$st-rss5-gw]}")" "$(mib "${R[$st-rss50-gw]}")" "$(mib "${R[$st-rss200-gw]}")" \
    "$(mib "${R[$st-rss5-st]}")" "$(mib "${R[$st-rss50-st]}")" "$(mib "${R[$st-rss200-st]}")"
done
echo "/users/me while 8 uploads of 50 MiB run (wrk -t2 -c16 -d6s):"
for n in "${NAMES[@]}"; do
  printf '  %-10s %8s req/s  p50 %6s ms  p99 %6s ms  errors %s non-2xx %s\n' "$n" "${RPS[$n]}" "${P50[$n]}" \
    "${P99[$n]}" "${ERRS[$n]}" "${NON2XX[$n]}"
done
