#!/usr/bin/env bash
# Runs the whole suite of a build directory with ctest; non-zero on any failure.
set -euo pipefail
build=${1:-build}
echo ">> running tests ($build)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 300
