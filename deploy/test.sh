#!/usr/bin/env bash
# deploy/test.sh — the whole test suite, as CI runs it (.ci/run execs this).
#
#   1. deploy/deps.sh test s3 docs  missing Debian packages, s3rver (npm) for the
#                                   integration tests of the S3 object store, and the
#                                   docs npm packages (Swagger UI, OpenAPI validator)
#   2. build/        CMake default (RelWithDebInfo), then ctest (unit tests)
#   3. integration   /usr/bin/python3 -m pytest tests/integration, RESTC_BUILD_DIR=build
#   4. build-asan/   -DSANITIZE=ON -DCMAKE_BUILD_TYPE=Debug (ASan + UBSan), then ctest
#                    with leak detection on
#   5. integration   again against build-asan (leak detection off by default:
#                    services are stopped with SIGTERM mid-flight; set
#                    RESTC_ASAN_INTEGRATION_LEAKS=1 to turn it on)
#
# Every step runs even if an earlier one failed (except the steps that need a
# build that failed). Exits non-zero on any failure and ends with one line
#   summary: <N> passed, <N> failed, <N> skipped
# counting unit tests (ctest) and integration tests (pytest) of both builds;
# a failed build or a step that hit its time limit counts as one failure.
#
#   6. fuzz         tests/fuzz/fuzz_codec, fuzz_h1 and fuzz_xml (clang, libFuzzer),
#                   RESTC_FUZZ_SECONDS each
#
# Knobs: RESTC_TEST_JOBS (default: nproc), RESTC_SKIP_ASAN=1,
# RESTC_SKIP_INTEGRATION=1, RESTC_FUZZ_SECONDS (30; 0 skips),
# PYTEST_ADDOPTS (passed through by pytest).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT" || exit 1
JOBS=${RESTC_TEST_JOBS:-$(nproc)}
PY=/usr/bin/python3 # not whatever python3 is first on PATH (may be pyenv)
T0=$SECONDS
STEPLOG=$(mktemp -d /tmp/restc-test.XXXXXX)
trap 'rm -rf "$STEPLOG"' EXIT

passed=0 failed=0 skipped=0
report=()

say() { printf '\n==== %s\n' "$*"; }
note() { report+=("$1"); }
elapsed() { printf '%dm%02ds' $(((SECONDS - $1) / 60)) $(((SECONDS - $1) % 60)); }

# run_step NAME TIMEOUT_SECONDS CMD... : runs CMD with output shown and kept
# in $STEPLOG/NAME.log; returns CMD's status (124 on timeout).
run_step() {
  local name=$1 limit=$2 rc
  shift 2
  timeout --kill-after=30 "$limit" "$@" 2>&1 | tee "$STEPLOG/$name.log"
  rc=${PIPESTATUS[0]}
  [[ $rc -eq 124 ]] && echo "test.sh: step '$name' hit its ${limit}s time limit"
  return "$rc"
}

build_tree() { # build_tree NAME DIR CMAKE_ARGS...
  local name=$1 dir=$2 t=$SECONDS
  shift 2
  say "build $dir ($*)"
  if run_step "configure-$name" 600 cmake -S . -B "$dir" "$@" &&
    run_step "build-$name" 2400 cmake --build "$dir" -j "$JOBS"; then
    note "build-$name ok ($(elapsed "$t"))"
    return 0
  fi
  note "build-$name FAILED"
  failed=$((failed + 1))
  return 1
}

unit_tests() { # unit_tests NAME DIR
  local name=$1 dir=$2 t=$SECONDS rc line total nfail
  say "unit tests: ctest in $dir"
  run_step "unit-$name" 1800 ctest --test-dir "$dir" --output-on-failure -j "$JOBS"
  rc=$?
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$STEPLOG/unit-$name.log" | tail -n 1)
  if [[ -n "$line" ]]; then
    nfail=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$line")
    total=$(sed -E 's/.*failed out of ([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + total - nfail))
    failed=$((failed + nfail))
  elif [[ $rc -ne 0 ]]; then
    failed=$((failed + 1))
  fi
  if [[ $rc -eq 0 ]]; then
    note "unit-$name ok (${line:-no tests}, $(elapsed "$t"))"
  else
    [[ -n "$line" && $nfail -eq 0 ]] && failed=$((failed + 1)) # e.g. timeout
    note "unit-$name FAILED (${line:-ctest exit $rc})"
  fi
}

integration_tests() { # integration_tests NAME DIR [ENV=value...]
  local name=$1 dir=$2 t=$SECONDS rc line n word
  shift 2
  say "integration tests against $dir"
  if [[ "${RESTC_SKIP_INTEGRATION:-0}" == 1 ]]; then
    note "integration-$name skipped (RESTC_SKIP_INTEGRATION=1)"
    return 0
  fi
  if ! compgen -G 'tests/integration/test_*.py' >/dev/null &&
    ! compgen -G 'tests/integration/*_test.py' >/dev/null; then
    echo "test.sh: no test files in tests/integration yet; skipping"
    note "integration-$name skipped (no test files yet)"
    return 0
  fi
  run_step "integration-$name" 2400 env RESTC_BUILD_DIR="$ROOT/$dir" PYTHONDONTWRITEBYTECODE=1 "$@" \
    "$PY" -m pytest -q -p no:cacheprovider tests/integration
  rc=$?
  # pytest's closing line, e.g. "3 failed, 40 passed, 2 skipped in 12.3s".
  line=$(grep -E '^=*[ ]*[0-9]+ (passed|failed|errors?|skipped|xfailed|xpassed|deselected)' \
    "$STEPLOG/integration-$name.log" | tail -n 1)
  while read -r n word; do
    case "$word" in
      passed* | xpassed*) passed=$((passed + n)) ;;
      failed* | error*) failed=$((failed + n)) ;;
      skipped* | xfailed*) skipped=$((skipped + n)) ;;
    esac
  done < <(grep -oE '[0-9]+ (passed|failed|errors?|skipped|xfailed|xpassed)' <<<"$line")
  case $rc in
    0) note "integration-$name ok (${line//=/}, $(elapsed "$t"))" ;;
    5)
      echo "test.sh: pytest collected no tests; skipping"
      note "integration-$name skipped (no tests collected)"
      ;;
    *)
      [[ "$line" =~ [0-9]+\ (failed|error) ]] || failed=$((failed + 1))
      note "integration-$name FAILED (${line:-pytest exit $rc})"
      ;;
  esac
}

say "dependencies"
if ! deploy/deps.sh test s3 docs; then
  echo "test.sh: could not install the dependencies"
  echo "summary: 0 passed, 1 failed"
  exit 1
fi

# Unit tests with sanitizers keep leak detection on; UBSan findings are fatal.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The storesvc unit tests that need a real database (test_db_live_*, the
# all-ok health of test_app) get a disposable private cluster.
UNIT_PG_STATE=$STEPLOG/unit-pg
unit_pg_start() {
  local port url
  port=$((40000 + RANDOM % 20000))
  if url=$(deploy/pg.sh start "$UNIT_PG_STATE" "$port" 2>"$STEPLOG/unit-pg.log"); then
    export STORE_TEST_DATABASE_URL=$url
  else
    echo "test.sh: no PostgreSQL for the unit tests ($(tail -n 1 "$STEPLOG/unit-pg.log")); their live cases skip"
  fi
}
unit_pg_stop() {
  unset STORE_TEST_DATABASE_URL
  deploy/pg.sh destroy "$UNIT_PG_STATE" >/dev/null 2>&1 || true
}

if build_tree normal build; then
  unit_pg_start
  unit_tests normal build
  unit_pg_stop
  integration_tests normal build
fi

if [[ "${RESTC_SKIP_ASAN:-0}" == 1 ]]; then
  note "asan skipped (RESTC_SKIP_ASAN=1)"
elif build_tree asan build-asan -DSANITIZE=ON -DCMAKE_BUILD_TYPE=Debug; then
  unit_pg_start
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} unit_tests asan build-asan
  unit_pg_stop
  leaks=0
  [[ "${RESTC_ASAN_INTEGRATION_LEAKS:-0}" == 1 ]] && leaks=1
  integration_tests asan build-asan "ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=$leaks:abort_on_error=0}"
fi

# Fuzz smoke: each libFuzzer target (clang, libFuzzer + ASan + UBSan) for
# RESTC_FUZZ_SECONDS (default 30; 0 skips) from its seed corpus: fuzz_codec
# (the wire codec), fuzz_h1 (HTTP request heads and chunked bodies) and
# fuzz_xml (storesvc's scanning of S3 answers). A
# crash counts as a failure; the crashing input is kept in build-fuzz/.
FUZZ_TARGETS=(codec h1 xml)
fuzz_smoke() {
  local secs=${RESTC_FUZZ_SECONDS:-30} work t=$SECONDS name
  if [[ "$secs" == 0 ]]; then
    note "fuzz skipped (RESTC_FUZZ_SECONDS=0)"
    return 0
  fi
  say "fuzz: ${FUZZ_TARGETS[*]} for ${secs}s each"
  if ! run_step configure-fuzz 600 cmake -S . -B build-fuzz -DFUZZ=ON -DCMAKE_C_COMPILER=clang \
    -DBUILD_TESTING=OFF || ! run_step build-fuzz 1200 cmake --build build-fuzz -j "$JOBS" \
    --target "${FUZZ_TARGETS[@]/#/fuzz_}"; then
    note "fuzz build FAILED"
    failed=$((failed + 1))
    return 1
  fi
  for name in "${FUZZ_TARGETS[@]}"; do
    t=$SECONDS
    work=$(mktemp -d /tmp/restc-fuzz.XXXXXX) # the first corpus dir is written to
    if run_step "fuzz-$name" $((secs + 120)) "build-fuzz/tests/fuzz/fuzz_$name" -max_total_time="$secs" \
      -rss_limit_mb=2048 -artifact_prefix=build-fuzz/ "$work" "tests/fuzz/corpus/$name"; then
      passed=$((passed + 1))
      note "fuzz_$name ok ($(grep -Eo 'Done [0-9]+ runs' "$STEPLOG/fuzz-$name.log" | tail -n 1), $(elapsed "$t"))"
    else
      failed=$((failed + 1))
      note "fuzz_$name FAILED (input kept under build-fuzz/)"
    fi
    rm -rf "$work"
  done
}
fuzz_smoke

# Clusters that integration tests left in /var/tmp for temp dirs now gone.
deploy/pg.sh gc || true

say "results ($(elapsed "$T0"))"
printf '  %s\n' "${report[@]}"
if [[ $failed -gt 0 ]]; then
  echo "test.sh: FAILED"
else
  echo "test.sh: OK"
fi
echo "summary: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
