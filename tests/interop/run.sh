#!/usr/bin/env bash
# Runs one interop suite (node, go, authlib, negative, password, indieauth, dpop, solid) with the third-party clients
# that scripts/setup-interop.sh installs (it is idempotent and quick once they are there).
# Needs HABANERO_BIN and HABANERO_WASM_OUT, as ctest sets them (tests/interop/CMakeLists.txt).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=$("$here/../../scripts/setup-interop.sh")
export HABANERO_INTEROP_CACHE="$cache"
python="$cache/python/bin/python"
[[ ${1:-} == indieauth ]] && python="$cache/python-indieauth/bin/python"
exec "$python" "$here/run.py" "$@"
