#!/usr/bin/env bash
# Installs the third-party OAuth/OIDC clients that tests/interop drives, from their registries
# with their ordinary clients, into a cache outside the clone. Idempotent: each part is keyed
# by the lock files committed in tests/interop and is reinstalled only when they change.
#
#   scripts/setup-interop.sh            install what is missing or stale; print the cache dir
#
#   <cache>/node/node_modules    npm ci of tests/interop/node/package{,-lock}.json
#                                (openid-client, jose)
#   <cache>/python               a venv with tests/interop/requirements.txt (authlib, requests)
#   <cache>/python-indieauth     a venv with tests/interop/indieauth/requirements.txt
#                                (indieweb-utils, the IndieAuth client)
#   <cache>/go/{mod,build}       GOMODCACHE/GOCACHE with tests/interop/go/go.{mod,sum}
#                                (github.com/coreos/go-oidc/v3, golang.org/x/oauth2)
#
# <cache> is $HABANERO_INTEROP_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/habanero/interop.
# Needs node >= 20 with npm, go >= 1.26 and python3 >= 3.11 with venv (present on our
# machines; scripts/setup.sh does not install them). Concurrent runs wait on a lock.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
interop="$root/tests/interop"
cache=${HABANERO_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/habanero/interop}
mkdir -p "$cache"

die() { echo "setup-interop.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required ($2)"; }
need node "Node.js 20 or newer"
need npm "npm, which comes with Node.js"
need go "Go 1.26 or newer"
need python3 "Python 3.11 or newer"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || die "node $(node --version) is too old: openid-client 6 needs 20 or newer"
python3 -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || die "python3 3.11 or newer with the venv module is required (tomllib)"

# One installer at a time; readers (the suites) start after the ctest fixture.
exec 9>"$cache/.lock"
flock 9

key() { cat "$@" | sha256sum | cut -c1-64; }
fresh() { [[ -f "$1/.stamp" && $(cat "$1/.stamp") == "$2" ]]; }

# ---- npm: openid-client -----------------------------------------------------------------
node_key=$(key "$interop/node/package.json" "$interop/node/package-lock.json")
if ! fresh "$cache/node" "$node_key"; then
  echo ">> interop: npm ci (openid-client)" >&2
  rm -rf "$cache/node.new"
  mkdir -p "$cache/node.new"
  cp "$interop/node/package.json" "$interop/node/package-lock.json" "$cache/node.new/"
  (cd "$cache/node.new" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  echo "$node_key" >"$cache/node.new/.stamp"
  rm -rf "$cache/node"
  mv "$cache/node.new" "$cache/node"
fi

# ---- PyPI: authlib + requests -------------------------------------------------------------
py_key=$(key "$interop/requirements.txt" <(python3 --version))
if ! fresh "$cache/python" "$py_key"; then
  echo ">> interop: pip install -r requirements.txt (authlib, requests)" >&2
  rm -rf "$cache/python"
  python3 -m venv "$cache/python"
  "$cache/python/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-input --only-binary=:all: -r "$interop/requirements.txt" >&2
  echo "$py_key" >"$cache/python/.stamp"
fi

# ---- PyPI: indieweb-utils (the IndieAuth client), in a venv of its own ------------------
ia_key=$(key "$interop/indieauth/requirements.txt" <(python3 --version))
if ! fresh "$cache/python-indieauth" "$ia_key"; then
  echo ">> interop: pip install -r indieauth/requirements.txt (indieweb-utils)" >&2
  rm -rf "$cache/python-indieauth"
  python3 -m venv "$cache/python-indieauth"
  # Some dependencies (brevity, feedgen, …) are published as source only: prefer wheels.
  "$cache/python-indieauth/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-input --prefer-binary \
    -r "$interop/indieauth/requirements.txt" >&2
  echo "$ia_key" >"$cache/python-indieauth/.stamp"
fi

# ---- Go module proxy: go-oidc + x/oauth2 ------------------------------------------------
go_key=$(key "$interop/go/go.mod" "$interop/go/go.sum")
if ! fresh "$cache/go" "$go_key"; then
  echo ">> interop: go mod download (go-oidc, x/oauth2)" >&2
  mkdir -p "$cache/go/mod" "$cache/go/build"
  (cd "$interop/go" &&
    GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS=-mod=readonly \
      GOTOOLCHAIN=local go mod download >&2)
  # Compile once so the suite's first run does not pay for it (and so a broken module fails here).
  (cd "$interop/go" &&
    GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS="-mod=readonly -buildvcs=false" \
      GOTOOLCHAIN=local go test -count=1 -run '^$' ./... >&2)
  echo "$go_key" >"$cache/go/.stamp"
fi

echo "$cache"
