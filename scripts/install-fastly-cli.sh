#!/usr/bin/env bash
# Installs the Fastly CLI (npm @fastly/cli-linux-x64, pinned by edge/cli/package-lock.json) once
# into a cache outside the clone and prints the path of the `fastly` binary.
#
# The cache key is the lockfile's hash, so every clone on this machine shares one copy and
# a version change installs the new one beside it. The path printed is the CLI's own Go
# binary, not npm's node shim: signals reach it (SIGTERM to `fastly compute serve` stops
# the Viceroy it started). Progress goes to stderr; the path is the only thing on stdout.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root="${HABANERO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/habanero}"
lock="$root/edge/cli/package-lock.json"

die() { echo "install-fastly-cli.sh: $*" >&2; exit 1; }
command -v npm >/dev/null || die "npm is required (Debian: apt-get install npm)"

# edge/cli pins the Linux x86-64 binary package (the npm package @fastly/cli is a node shim
# over one such package per platform); another machine needs its own entry there.
[[ $(uname -sm) == "Linux x86_64" ]] || die "edge/cli pins @fastly/cli-linux-x64 only; add the package for $(uname -sm)"
arch=x64
key=$( (cat "$root/edge/cli/package.json" "$lock"; echo "$arch") | sha256sum | cut -c1-16)
dir="$cache_root/fastly-cli/$key"
bin="$dir/node_modules/@fastly/cli-linux-$arch/fastly"
if [[ -x $bin ]]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$cache_root/fastly-cli"
(
  flock 9
  if [[ ! -x $bin ]]; then
    echo ">> installing the Fastly CLI (npm ci of edge/cli) into $dir" >&2
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    cp "$root/edge/cli/package.json" "$lock" "$dir.tmp/"
    (cd "$dir.tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    [[ -x "$dir.tmp/node_modules/@fastly/cli-linux-$arch/fastly" ]] ||
      die "npm ci did not install @fastly/cli-linux-$arch (is it in $lock?)"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
  fi
) 9>"$cache_root/fastly-cli/.lock"
"$bin" version >/dev/null || die "$bin does not run"
echo "$bin"
