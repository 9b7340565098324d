#!/usr/bin/env bash
# Runs the edge tests (edge_test.py) under Viceroy with the clients that
# scripts/setup-interop.sh installs (openid-client, requests, authlib). ctest sets
# HABANERO_BIN, HABANERO_WASM_OUT, HABANERO_EDGE_WASM and VICEROY (tests/edge/CMakeLists.txt).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=$("$here/../../scripts/setup-interop.sh")
export HABANERO_INTEROP_CACHE="$cache"
: "${VICEROY:=$("$here/../../scripts/build-viceroy.sh")}"
export VICEROY
exec "$cache/python/bin/python" -m unittest -v "${@:-edge_test}"
