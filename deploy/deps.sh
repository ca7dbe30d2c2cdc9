#!/usr/bin/env bash
# deploy/deps.sh — install the Debian (bookworm) packages this project needs.
#
#   deploy/deps.sh [build|test|bench|all]...     (default: build)
#
#   build  compilers, CMake, the -dev libraries, plus what deploy/run.sh needs
#          at run time (PostgreSQL 15 server, curl)
#   test   build + Python 3 with pytest, requests, pyzmq, msgpack (integration tests),
#          clang's sanitizer/fuzzer runtime (tests/fuzz), oathtool (TOTP codes
#          computed by the 2FA tests)
#   bench  wrk and nginx-light (benchmarks under tests/bench only), and what the
#          FastAPI yardstick in ../shared/peer/fastapi needs (Debian's FastAPI,
#          uvicorn, asyncpg...; node/npm for its s3rver)
#
# Idempotent: asks dpkg which packages are missing and runs `apt-get update`
# + `apt-get install` only when something is. Needs root when it has to install.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config clang clang-format
  libczmq-dev libzmq3-dev libpq-dev libmsgpack-dev libjwt-dev
  libcmocka-dev libjansson-dev libsodium-dev libargon2-dev libcurl4-openssl-dev liboath-dev
  postgresql postgresql-contrib curl ca-certificates
)
TEST_PKGS=(python3 python3-pytest python3-requests python3-zmq python3-msgpack libclang-rt-14-dev
  oathtool)
BENCH_PKGS=(wrk nginx-light python3-fastapi python3-uvicorn python3-starlette python3-jwt
  python3-argon2 python3-asyncpg python3-boto3 python3-multipart python3-httptools python3-uvloop
  bc)

usage() {
  echo "usage: $0 [build|test|bench|all]..." >&2
  exit 2
}

[[ $# -gt 0 ]] || set -- build
wanted=()
for set_name in "$@"; do
  case "$set_name" in
    build) wanted+=("${BUILD_PKGS[@]}") ;;
    test) wanted+=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}") ;;
    bench) wanted+=("${BENCH_PKGS[@]}") ;;&
    all) wanted+=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;&
    bench | all) command -v npm >/dev/null || wanted+=(nodejs npm) ;; # nodesource's nodejs brings its own npm
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
  exit 0
fi

echo "deps.sh: installing ${missing[*]}" >&2
if [[ $EUID -ne 0 ]]; then
  echo "deps.sh: missing packages and not root; run as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
echo "deps.sh: done" >&2
