#!/usr/bin/env bash
# Runs one cluster suite (faults, node) against a PostgreSQL + gateway + workers cluster on
# loopback, with the Python (requests) and npm clients that scripts/setup-interop.sh installs
# into its cache (idempotent; quick once they are there).
# Needs HABANERO_BIN and HABANERO_WASM_OUT, as ctest sets them (tests/cluster/CMakeLists.txt).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=$("$here/../../scripts/setup-interop.sh")
export HABANERO_INTEROP_CACHE="$cache"
exec "$cache/python/bin/python" -W ignore::ResourceWarning "$here/run.py" "$@"
