#!/usr/bin/env bash
# deploy/deps.sh — install the Debian (bookworm) packages this project needs.
#
#   deploy/deps.sh [build|test|s3|docs|bench|rgw|all]...  (default: build)
#
#   build  compilers, CMake, the -dev libraries, plus what deploy/run.sh needs
#          at run time (PostgreSQL 15 server, curl); then the upstream Argon2
#          sources that authsvc compiles with AVX2 (deploy/argon2-src.sh; on a
#          failed download the build uses Debian's generic libargon2 instead)
#   test   build + Python 3 with pytest, requests, pyzmq, msgpack, botocore, aiosmtpd
#          (integration tests; botocore checks the S3 signatures, aiosmtpd is the SMTP sink
#          of test_password_reset), clang's sanitizer/fuzzer runtime (tests/fuzz),
#          prometheus (only for its promtool: the unit tests run `promtool check metrics`
#          on rt_metrics output), oathtool (TOTP codes computed by the 2FA tests),
#          hypothesis and jsonschema (test_openapi's fuzzing from the API document),
#          chromium (test_openapi loads the Swagger UI page headless)
#   s3     node/npm, and s3rver (the S3 stand-in of the integration tests) from the npm
#          registry into $RESTC_S3RVER_DIR (default .state/s3rver), unless already there
#   docs   node/npm, and tools/docs/package-lock.json (swagger-ui-dist, which the gateway
#          serves at /api/v1/docs from DOCS_UI_DIR, and @seriousme/openapi-schema-validator,
#          test_openapi's OpenAPI 3.1 validator) installed with `npm ci` into
#          $RESTC_DOCS_NPM_DIR (default .state/docs-npm), unless already there at that lock
#   bench  wrk and nginx-light (benchmarks under tests/bench only), and what the
#          FastAPI yardstick of tests/bench/bench_auth.sh (not part of this repository) needs (Debian's FastAPI,
#          uvicorn, asyncpg...; node/npm for its s3rver)
#
#   rgw    Ceph's monitor, OSD and radosgw (Debian's ceph 16.2): only for
#          tests/bench/rgw.sh, a one-node S3 server that checks signatures
#          and does not copy on CompleteMultipartUpload, to run
#          tests/bench/bench_files.sh against (not part of "all")
#
# Idempotent: asks dpkg which packages are missing and runs `apt-get update`
# + `apt-get install` only when something is. Needs root when it has to install.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config clang clang-format
  libczmq-dev libzmq3-dev libpq-dev libmsgpack-dev libjwt-dev libssl-dev
  libcmocka-dev libjansson-dev libsodium-dev libargon2-dev libcurl4-openssl-dev libzxcvbn-dev liboath-dev
  postgresql postgresql-contrib curl ca-certificates
)
TEST_PKGS=(python3 python3-pytest python3-requests python3-zmq python3-msgpack python3-botocore
  python3-aiosmtpd libclang-rt-14-dev prometheus oathtool python3-hypothesis python3-jsonschema
  chromium)
S3RVER_PKG=s3rver@3.7.1
BENCH_PKGS=(wrk nginx-light python3-fastapi python3-uvicorn python3-starlette python3-jwt
  python3-argon2 python3-asyncpg python3-boto3 python3-multipart python3-httptools python3-uvloop
  bc)
RGW_PKGS=(ceph-mon ceph-osd radosgw ceph-common)

usage() {
  echo "usage: $0 [build|test|s3|docs|bench|rgw|all]..." >&2
  exit 2
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
want_s3=0
want_docs=0
want_argon2=0

[[ $# -gt 0 ]] || set -- build
wanted=()
for set_name in "$@"; do
  case "$set_name" in
    build) wanted+=("${BUILD_PKGS[@]}"); want_argon2=1 ;;
    test) wanted+=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"); want_argon2=1 ;;
    bench) wanted+=("${BENCH_PKGS[@]}") ;;&
    rgw) wanted+=("${RGW_PKGS[@]}") ;;
    all) wanted+=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${BENCH_PKGS[@]}"); want_argon2=1 ;;&
    s3) want_s3=1 ;;&
    docs) want_docs=1 ;;&
    bench | all | s3 | docs) command -v npm >/dev/null || wanted+=(nodejs npm) ;; # nodesource's nodejs brings its own npm
    -h | --help) usage ;;
    *) echo "deps.sh: unknown package set '$set_name'" >&2; usage ;;
  esac
done

# Deduplicate, keep order, and keep only what dpkg does not report as installed.
missing=()
declare -A seen=()
for pkg in "${wanted[@]}"; do
  [[ -n "${seen[$pkg]:-}" ]] && continue
  seen[$pkg]=1
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps.sh: all ${#seen[@]} packages present ($*)" >&2
else
  echo "deps.sh: installing ${missing[*]}" >&2
  if [[ $EUID -ne 0 ]]; then
    echo "deps.sh: missing packages and not root; run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
  echo "deps.sh: done" >&2
fi

# Argon2 with SIMD: not fatal, CMake falls back to Debian's libargon2 and says so.
if [[ $want_argon2 -eq 1 ]] && ! "$ROOT/deploy/argon2-src.sh"; then
  echo "deps.sh: could not fetch the Argon2 sources; authsvc will use Debian's generic libargon2" >&2
fi

# s3rver: a project-local npm install (not global), kept across runs.
if [[ $want_s3 -eq 1 ]]; then
  dir=${RESTC_S3RVER_DIR:-$ROOT/.state/s3rver}
  if [[ -f "$dir/node_modules/s3rver/package.json" ]]; then
    echo "deps.sh: s3rver present in $dir" >&2
  else
    echo "deps.sh: installing $S3RVER_PKG into $dir" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$S3RVER_PKG" </dev/null
  fi
fi

# swagger-ui-dist and the OpenAPI validator: `npm ci` of the committed lock
# file into a project-local directory, redone when the lock file changes.
if [[ $want_docs -eq 1 ]]; then
  dir=${RESTC_DOCS_NPM_DIR:-$ROOT/.state/docs-npm}
  if [[ -f "$dir/node_modules/swagger-ui-dist/package.json" ]] &&
    cmp -s "$ROOT/tools/docs/package-lock.json" "$dir/package-lock.json"; then
    echo "deps.sh: docs npm packages present in $dir" >&2
  else
    echo "deps.sh: installing tools/docs/package-lock.json into $dir" >&2
    mkdir -p "$dir"
    cp "$ROOT/tools/docs/package.json" "$ROOT/tools/docs/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
  fi
fi
