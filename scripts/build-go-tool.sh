#!/usr/bin/env bash
# Builds a Go program once into a cache outside the clone, from the Go module proxy with
# `go install`, and prints the path of its binary. helm (the chart's checks), nats-server
# (the events broker tests) and oauth2-proxy (the email_verified check) are built by it,
# through build-helm.sh, build-nats-server.sh and build-oauth2-proxy.sh.
#
#   scripts/build-go-tool.sh NAME PACKAGE VERSION [GOFLAGS]
#
# The binary lands in <cache>/NAME/<key>/bin/NAME, key = "NAME VERSION" + `go version`, so
# every clone on this machine reuses it and a new version or Go rebuilds it. Downloaded
# modules and compiled packages are shared by the tools (<cache>/go/mod, <cache>/go/build):
# on a new machine the standard library and the dependencies they have in common compile
# once, not once per tool. Progress goes to stderr; the binary path is the only thing on
# stdout. Needs go (1.24 or newer).
set -euo pipefail
name=${1:?usage: build-go-tool.sh NAME PACKAGE VERSION [GOFLAGS]}
package=${2:?usage: build-go-tool.sh NAME PACKAGE VERSION [GOFLAGS]}
version=${3:?usage: build-go-tool.sh NAME PACKAGE VERSION [GOFLAGS]}
goflags=${4:--trimpath}
cache_root="${HABANERO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/habanero}"
command -v go >/dev/null 2>&1 || { echo "build-go-tool.sh: go is required to build $name" >&2; exit 1; }
key=$( (echo "$name $version"; go version) | sha256sum | cut -c1-16)
root="$cache_root/$name/$key"
if [[ -x "$root/bin/$name" ]]; then
  echo "$root/bin/$name"
  exit 0
fi
mkdir -p "$cache_root/$name" "$cache_root/go"
(
  flock 9
  if [[ ! -x "$root/bin/$name" ]]; then
    echo ">> building $name $version (first time on this machine: a few minutes)" >&2
    start=$(date +%s)
    rm -rf "$root.tmp"
    mkdir -p "$root.tmp/bin"
    GOBIN="$root.tmp/bin" GOFLAGS="$goflags" GOTOOLCHAIN=local \
      GOMODCACHE="$cache_root/go/mod" GOCACHE="$cache_root/go/build" \
      nice -n 10 go install "$package@$version" >&2
    [[ -x "$root.tmp/bin/$name" ]] || { echo "build-go-tool.sh: go install $package@$version made no $name" >&2; exit 1; }
    rm -rf "$root"
    mv "$root.tmp" "$root"
    echo ">> $name built in $(( $(date +%s) - start )) s" >&2
  fi
) 9>"$cache_root/$name/.lock"
echo "$root/bin/$name"
