#!/usr/bin/env bash
# Builds the edge program the tests run: prepare.py picks the modules (the production set
# and every conformance setup), scripts/setup-edge.sh builds the Compute program.
#   build.sh WASM_DIR OUT_DIR     -> OUT_DIR/bin/main.wasm
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
wasm_dir=${1:?usage: build.sh WASM_DIR OUT_DIR}
out=${2:?usage: build.sh WASM_DIR OUT_DIR}
mkdir -p "$out"
python3 "$here/prepare.py" "$wasm_dir" "$out"
exec "$here/../../scripts/setup-edge.sh" build "$out/wasm" "$out" "$out/extensions.toml"
