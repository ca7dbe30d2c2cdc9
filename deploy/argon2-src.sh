#!/usr/bin/env bash
# deploy/argon2-src.sh — fetch the upstream Argon2 sources that authsvc's build
# compiles with SIMD (AVX2) in place of Debian's generic libargon2.
#
#   deploy/argon2-src.sh [DIR]   (default $RESTC_ARGON2_DIR or .state/argon2)
#
# What: the reference implementation of the Argon2 authors
# (github.com/P-H-C/phc-winner-argon2, release 20190702, CC0 / Apache-2.0),
# whose optimised code path (src/opt.c) Debian does not build. Debian's source
# package is not on the package mirror, so the sources come from the npm
# registry, where the `argon2` package (node-argon2) carries them unchanged
# in its argon2/ directory; only that directory is kept. The tarball is
# checked against the SHA-256 below before anything is extracted, and nothing
# from it is run. No node or npm is needed: curl, sha256sum and tar.
#
# Idempotent: does nothing when DIR already holds this version. Without the
# sources (offline, or this script never ran) CMake falls back to Debian's
# libargon2 and says so; the hashes are the same either way.
set -euo pipefail

VERSION=0.45.1 # npm argon2; its argon2/ is upstream release 20190702
URL=https://registry.npmjs.org/argon2/-/argon2-$VERSION.tgz
SHA256=4acffbd5e5a87fe8fad926afc9a9ac450d69b7082686dd2836be0d8309dbd8aa

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
dir=${1:-${RESTC_ARGON2_DIR:-$ROOT/.state/argon2}}
stamp="$dir/.restc-source"

if [[ -f "$dir/src/opt.c" && "$(cat "$stamp" 2>/dev/null)" == "$URL $SHA256" ]]; then
  echo "argon2-src.sh: Argon2 sources present in $dir" >&2
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "argon2-src.sh: fetching $URL" >&2
curl -fsSL --retry 3 --max-time 120 -o "$tmp/a.tgz" "$URL"
echo "$SHA256  $tmp/a.tgz" | sha256sum -c --quiet -
tar -xzf "$tmp/a.tgz" -C "$tmp" package/argon2
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
mv "$tmp/package/argon2" "$dir"
echo "$URL $SHA256" >"$stamp"
echo "argon2-src.sh: Argon2 20190702 sources in $dir" >&2
