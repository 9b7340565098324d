#!/usr/bin/env bash
# The comparison benchmark of issue 7: Habanero against node-oidc-provider, Keycloak and an
# nginx floor, same load, same machine, interleaved runs (bench/compare.py explains the
# method; docs/performance.md the figures). Installs what is missing first.
#
#   scripts/bench-peers.sh BUILD_DIR     (BUILD_DIR/src/cli/habanero built as Release)
#
# Writes bench/results/<UTC timestamp>.json, docs/img/comparison-latest.json and
# docs/img/comparison-*.png. Environment knobs (BENCH_QUICK=1, BENCH_REPS, BENCH_SECONDS,
# BENCH_SERVERS, …): see bench/compare.py.
set -euo pipefail

build=${1:?usage: scripts/bench-peers.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${BENCH_CACHE:-$HOME/.cache/habanero/bench}
[[ -x $build/src/cli/habanero ]] || { echo "bench-peers.sh: $build/src/cli/habanero not built (make bench)" >&2; exit 1; }

BENCH_CACHE=$cache "$root/scripts/setup-bench-peers.sh"
exec "$cache/venv/bin/python" "$root/bench/compare.py" --build "$build" --cache "$cache"
