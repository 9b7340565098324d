#!/usr/bin/env bash
# Runs the edge tests (edge_test.py) under Viceroy with the clients that
# scripts/setup-interop.sh installs (openid-client, requests, authlib). ctest sets
# HABANERO_BIN, HABANERO_WASM_OUT and HABANERO_EDGE_WASM (tests/edge/CMakeLists.txt); VICEROY
# and FASTLY_CLI come from the set-up scripts (built or installed once into the cache).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=$("$here/../../scripts/setup-interop.sh")
export HABANERO_INTEROP_CACHE="$cache"
: "${VICEROY:=$("$here/../../scripts/build-viceroy.sh")}"
export VICEROY
: "${FASTLY_CLI:=$("$here/../../scripts/install-fastly-cli.sh")}"
export FASTLY_CLI
exec "$cache/python/bin/python" -m unittest -v "${@:-edge_test}"
