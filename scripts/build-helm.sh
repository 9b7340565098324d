#!/usr/bin/env bash
# Builds Helm once into a cache outside the clone (from the Go module proxy, with
# `go install`) and prints the path of the helm binary.
#
# The cache key is the pinned version plus go's version, so every clone on this machine
# reuses the same binary. Progress goes to stderr; the binary path is the only thing on
# stdout. Needs go (1.24 or newer).
set -euo pipefail
version=v3.21.4
cache_root="${HABANERO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/habanero}"
command -v go >/dev/null 2>&1 || { echo "build-helm.sh: go is required" >&2; exit 1; }
key=$( (echo "helm $version"; go version) | sha256sum | cut -c1-16)
root="$cache_root/helm/$key"
if [[ -x "$root/bin/helm" ]]; then
  echo "$root/bin/helm"
  exit 0
fi
mkdir -p "$cache_root/helm"
(
  flock 9
  if [[ ! -x "$root/bin/helm" ]]; then
    echo ">> building Helm $version (first time on this machine: a few minutes)" >&2
    start=$(date +%s)
    rm -rf "$root.tmp"
    mkdir -p "$root.tmp/bin"
    GOBIN="$root.tmp/bin" GOFLAGS=-trimpath GOTOOLCHAIN=local \
      GOMODCACHE="$cache_root/helm/mod" GOCACHE="$cache_root/helm/build" \
      nice -n 10 go install "helm.sh/helm/v3/cmd/helm@$version" >&2
    rm -rf "$root"
    mv "$root.tmp" "$root"
    rm -rf "$cache_root/helm/build"
    echo ">> Helm built in $(( $(date +%s) - start )) s" >&2
  fi
) 9>"$cache_root/helm/.lock"
echo "$root/bin/helm"
