#!/usr/bin/env bash
# Runs an e2e test file (a Python unittest module in this folder) with the components that
# scripts/setup-e2e.sh installs (it is idempotent and quick once they are there).
#   tests/e2e/run.sh harness_selftest.py [unittest args, e.g. BrowserTest]
# ctest sets HABANERO_E2E_ARTIFACTS (screenshots), HABANERO_BIN and HABANERO_WASM_OUT.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HABANERO_E2E_CACHE=$("$here/../../scripts/setup-e2e.sh")
export HABANERO_E2E_CACHE
export HABANERO_E2E_ARTIFACTS=${HABANERO_E2E_ARTIFACTS:-$(pwd)/e2e-artifacts}
mkdir -p "$HABANERO_E2E_ARTIFACTS"
file=$1
shift
cd "$here"
exec python3 "$file" "$@"
