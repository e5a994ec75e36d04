#!/bin/sh
# Builds the shim (the native `jipam`) with cargo, offline and from Cargo.lock (it has no crates),
# runs its unit tests unless the second argument is "true" (in Cargo.toml's release-tests profile:
# release code without LTO, which is costly to link into each test harness), and puts the release
# binary into DIST/bin/jipam (temporary name, then rename).
#
#   build.sh DIST [SKIP_TESTS]
set -eu
here=$(dirname "$(readlink -f "$0")")
dist=$1
skip_tests=${2:-false}
cargo=$(command -v cargo 2>/dev/null || true)
if [ -z "$cargo" ] && [ -x "${HOME:-/root}/.cargo/bin/cargo" ]; then cargo=${HOME:-/root}/.cargo/bin/cargo; fi
if [ -z "$cargo" ]; then
  echo "ipam-shim: cargo is not installed: apt-get install cargo (Debian's, rustc 1.63 or later), or put rustup's ~/.cargo/bin on PATH" >&2
  exit 1
fi
PATH=$(dirname "$cargo"):$PATH
export PATH
export CARGO_TARGET_DIR="$here/target/cargo"
cd "$here"
"$cargo" build --release --offline --locked --quiet
if [ "$skip_tests" != true ]; then
  "$cargo" test --profile release-tests --offline --locked --quiet
fi
mkdir -p "$dist/bin"
cp "$CARGO_TARGET_DIR/release/jipam" "$dist/bin/.jipam.tmp.$$"
mv -f "$dist/bin/.jipam.tmp.$$" "$dist/bin/jipam"
