#!/usr/bin/env bash
# Builds deps/wasmtime (our pin of wasmtime-c-api-impl) once into a cache outside
# the clone and prints the stage directory holding lib/ and include/.
#
# The cache key covers Cargo.toml, Cargo.lock, build.rs, src/ and rustc's version,
# so every clone on this machine (and CI) reuses the same build. Progress goes to
# stderr; the stage path is the only thing on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
crate="$root/deps/wasmtime"
cache_root="${HABANERO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/habanero}"
key=$( (cat "$crate/Cargo.toml" "$crate/Cargo.lock" "$crate/build.rs" "$crate/src/lib.rs"; rustc --version) | sha256sum | cut -c1-16)
stage="$cache_root/wasmtime/$key"
if [[ -f "$stage/lib/libhabanero_wasmtime.a" && -f "$stage/include/wasmtime.hh" ]]; then
  echo "$stage"
  exit 0
fi
echo ">> building Wasmtime C API (first time on this machine: ~10-20 min on 2 cores)" >&2
mkdir -p "$stage/lib" "$cache_root/wasmtime/target"
# The target dir is shared across keys so a lock-file bump rebuilds only what changed.
(
  cd "$crate"
  flock 9
  HABANERO_WASMTIME_STAGE="$stage" CARGO_TARGET_DIR="$cache_root/wasmtime/target" \
    cargo build --release --locked >&2
  cp "$cache_root/wasmtime/target/release/libhabanero_wasmtime.a" "$stage/lib/.tmp.a"
  mv "$stage/lib/.tmp.a" "$stage/lib/libhabanero_wasmtime.a"
) 9>"$cache_root/wasmtime/.lock"
echo "$stage"
