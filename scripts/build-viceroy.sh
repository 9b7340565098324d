#!/usr/bin/env bash
# Builds Viceroy (Fastly's local Compute emulator) once into a cache outside the
# clone and prints the path of the viceroy binary.
#
# The cache key is the pinned version plus rustc's version, so every clone on this
# machine reuses the same binary. The release profile is shortened through cargo's
# environment (no LTO, more codegen units, no debug info): the binary only serves
# tests, so its build time matters more than its speed. Progress goes to stderr;
# the binary path is the only thing on stdout.
set -euo pipefail
version=0.22.0
cache_root="${HABANERO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/habanero}"
key=$( (echo "viceroy $version"; rustc --version) | sha256sum | cut -c1-16)
root="$cache_root/viceroy/$key"
if [[ -x "$root/bin/viceroy" ]]; then
  echo "$root/bin/viceroy"
  exit 0
fi
mkdir -p "$cache_root/viceroy"
(
  flock 9
  if [[ ! -x "$root/bin/viceroy" ]]; then
    echo ">> building Viceroy $version (first time on this machine: ~10-15 min on 2 cores)" >&2
    start=$(date +%s)
    CARGO_PROFILE_RELEASE_LTO=off \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 \
    CARGO_PROFILE_RELEASE_DEBUG=0 \
    CARGO_PROFILE_RELEASE_INCREMENTAL=false \
    CARGO_TARGET_DIR="$cache_root/viceroy/target" \
      nice -n 10 cargo install viceroy --version "=$version" --locked --root "$root.tmp" >&2
    rm -rf "$root"
    mv "$root.tmp" "$root"
    rm -rf "$cache_root/viceroy/target"
    echo ">> Viceroy built in $(( $(date +%s) - start )) s" >&2
  fi
) 9>"$cache_root/viceroy/.lock"
echo "$root/bin/viceroy"
