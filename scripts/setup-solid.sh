#!/usr/bin/env bash
# Installs the Solid-OIDC interop components that tests/interop/solid drives, from the npm
# registry with npm, into a cache outside the clone. Idempotent: keyed by the lock files
# committed in tests/interop/solid; reinstalled only when they (or node's major) change.
#
#   scripts/setup-solid.sh          install what is missing or stale; print the cache dir
#
#   <cache>/node_modules   npm ci --ignore-scripts of tests/interop/solid/package{,-lock}.json:
#                          @solid/community-server (the resource server, with
#                          @solid/access-token-verifier) and @inrupt/solid-client-authn-node
#                          (the client). None of the 640-odd packages has an install script
#                          (no "hasInstallScript" in the lock), so --ignore-scripts loses nothing.
#
# <cache> is $HABANERO_SOLID_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/habanero/interop/solid.
# Needs node 20 or newer with npm (CSS 7 wants >= 18; solid-client-authn-node 4.0.0 wants
# ^20 || ^22 || ^24; 5.x needs 22, hence the pin). Concurrent runs wait on a lock.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
solid="$root/tests/interop/solid"
cache=${HABANERO_SOLID_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/habanero/interop/solid}
mkdir -p "$cache"

die() { echo "setup-solid.sh: $*" >&2; exit 1; }
command -v node >/dev/null 2>&1 || die "node is required (Node.js 20 or newer)"
command -v npm >/dev/null 2>&1 || die "npm is required (it comes with Node.js)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || die "node $(node --version) is too old: @inrupt/solid-client-authn-node 4 needs 20 or newer"

exec 9>"$cache/.lock"
flock 9

stamp=$(cat "$solid/package.json" "$solid/package-lock.json" <(node -p 'process.versions.node.split(".")[0]') \
  | sha256sum | cut -c1-64)
if ! [[ -f "$cache/.stamp" && $(cat "$cache/.stamp") == "$stamp" && -d "$cache/node_modules" ]]; then
  echo ">> solid: npm ci (@solid/community-server, @inrupt/solid-client-authn-node)" >&2
  rm -rf "$cache/new"
  mkdir -p "$cache/new"
  cp "$solid/package.json" "$solid/package-lock.json" "$cache/new/"
  (cd "$cache/new" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  rm -rf "$cache/node_modules" "$cache/.stamp"
  mv "$cache/new/node_modules" "$cache/node_modules"
  cp "$solid/package.json" "$solid/package-lock.json" "$cache/"
  rm -rf "$cache/new"
  echo "$stamp" >"$cache/.stamp"
fi

echo "$cache"
