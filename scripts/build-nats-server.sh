#!/usr/bin/env bash
# Builds nats-server (NATS with JetStream) once into a cache outside the clone (from the Go
# module proxy, with `go install`) and prints the path of the nats-server binary. The
# tests of the events broker (src/events/nats_broker.*, tests/cluster/events_broker_test.py)
# start it on loopback.
#
# The cache key is the pinned version plus go's version, so every clone on this machine
# reuses the same binary. Progress goes to stderr; the binary path is the only thing on
# stdout. Needs go (1.24 or newer).
set -euo pipefail
version=v2.15.2
cache_root="${HABANERO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/habanero}"
command -v go >/dev/null 2>&1 || { echo "build-nats-server.sh: go is required" >&2; exit 1; }
key=$( (echo "nats-server $version"; go version) | sha256sum | cut -c1-16)
root="$cache_root/nats-server/$key"
if [[ -x "$root/bin/nats-server" ]]; then
  echo "$root/bin/nats-server"
  exit 0
fi
mkdir -p "$cache_root/nats-server"
(
  flock 9
  if [[ ! -x "$root/bin/nats-server" ]]; then
    echo ">> building nats-server $version (first time on this machine: a few minutes)" >&2
    start=$(date +%s)
    rm -rf "$root.tmp"
    mkdir -p "$root.tmp/bin"
    GOBIN="$root.tmp/bin" GOFLAGS="-mod=mod -trimpath" GOTOOLCHAIN=local \
      GOMODCACHE="$cache_root/nats-server/mod" GOCACHE="$cache_root/nats-server/build" \
      nice -n 10 go install "github.com/nats-io/nats-server/v2@$version" >&2
    "$root.tmp/bin/nats-server" --version >&2
    rm -rf "$root"
    mv "$root.tmp" "$root"
    rm -rf "$cache_root/nats-server/build"
    echo ">> nats-server built in $(( $(date +%s) - start )) s" >&2
  fi
) 9>"$cache_root/nats-server/.lock"
echo "$root/bin/nats-server"
