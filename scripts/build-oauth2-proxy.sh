#!/usr/bin/env bash
# Builds oauth2-proxy (a relying party people deploy in front of their apps) once into a
# cache outside the clone, from the Go module proxy with `go install`, and prints the path
# of the binary. The interop test tests/interop/oauth2_proxy_test.py signs users in
# through it: it refuses ID tokens whose email_verified is not true.
#
# The cache key is the pinned version plus go's version, so every clone on this machine
# reuses the same binary. Progress goes to stderr; the binary path is the only thing on
# stdout. Needs go (1.24 or newer; scripts/setup.sh installs it).
set -euo pipefail
version=v7.15.6
cache_root="${HABANERO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/habanero}"
command -v go >/dev/null 2>&1 || { echo "build-oauth2-proxy.sh: go is required" >&2; exit 1; }
key=$( (echo "oauth2-proxy $version"; go version) | sha256sum | cut -c1-16)
root="$cache_root/oauth2-proxy/$key"
if [[ -x "$root/bin/oauth2-proxy" ]]; then
  echo "$root/bin/oauth2-proxy"
  exit 0
fi
mkdir -p "$cache_root/oauth2-proxy"
(
  flock 9
  if [[ ! -x "$root/bin/oauth2-proxy" ]]; then
    echo ">> building oauth2-proxy $version (first time on this machine: a few minutes)" >&2
    start=$(date +%s)
    rm -rf "$root.tmp"
    mkdir -p "$root.tmp/bin"
    GOBIN="$root.tmp/bin" GOFLAGS=-trimpath GOTOOLCHAIN=local \
      GOMODCACHE="$cache_root/oauth2-proxy/mod" GOCACHE="$cache_root/oauth2-proxy/build" \
      nice -n 10 go install "github.com/oauth2-proxy/oauth2-proxy/v7@$version" >&2
    rm -rf "$root"
    mv "$root.tmp" "$root"
    rm -rf "$cache_root/oauth2-proxy/build"
    echo ">> oauth2-proxy built in $(( $(date +%s) - start )) s" >&2
  fi
) 9>"$cache_root/oauth2-proxy/.lock"
echo "$root/bin/oauth2-proxy"
