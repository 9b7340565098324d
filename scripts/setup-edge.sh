#!/usr/bin/env bash
# The edge host's tools and build (docs/edge.md). Idempotent; long builds go once
# into the cache (${XDG_CACHE_HOME:-~/.cache}/habanero) and are reused by every clone.
#
#   scripts/setup-edge.sh
#       rustup target wasm32-wasip1, Viceroy (scripts/build-viceroy.sh) and the Fastly CLI
#       (scripts/install-fastly-cli.sh); prints the viceroy binary's path
#   scripts/setup-edge.sh build WASM_DIR [OUT_DIR] [EXTENSIONS_TOML]
#       builds the Compute program (edge/) with the modules and manifests of WASM_DIR
#       (the C++ build's wasm directory) embedded as EXTENSIONS_TOML (default
#       edge/extensions.toml) says; writes OUT_DIR/bin/main.wasm and the package
#       OUT_DIR/pkg/habanero-edge.tar.gz, made and checked by the Fastly CLI
#       (`fastly compute pack`, `fastly compute validate`) (default OUT_DIR: edge/)
#
# Cargo's target directory is <cache>/edge/target, so a fresh clone compiles only the
# edge crate itself once the dependencies are there.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root="${HABANERO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/habanero}"

die() { echo "setup-edge.sh: $*" >&2; exit 1; }
command -v cargo >/dev/null || die "cargo is required (rustup, https://rustup.rs)"

ensure_target() {
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
    echo ">> rustup target add wasm32-wasip1" >&2
    rustup target add wasm32-wasip1 >&2
  fi
}

case "${1:-tools}" in
  tools)
    ensure_target
    "$root/scripts/install-fastly-cli.sh" >/dev/null
    "$root/scripts/build-viceroy.sh"
    ;;
  build)
    wasm_dir=${2:?usage: setup-edge.sh build WASM_DIR [OUT_DIR] [EXTENSIONS_TOML]}
    out=${3:-$root/edge}
    extensions=${4:-$root/edge/extensions.toml}
    [[ -d $wasm_dir ]] || die "$wasm_dir: no such directory (build the extensions first: make build)"
    ensure_target
    wasm_dir=$(cd "$wasm_dir" && pwd)
    extensions=$(cd "$(dirname "$extensions")" && pwd)/$(basename "$extensions")
    mkdir -p "$cache_root/edge" "$out/bin" "$out/pkg"
    out=$(cd "$out" && pwd)
    target="$cache_root/edge/target"
    start=$(date +%s)
    echo ">> building the edge program (edge/, wasm32-wasip1) with $(basename "$extensions")" >&2
    # One build at a time per target directory, up to the copy: two packages built at once
    # (the tests build two) would otherwise copy each other's program.
    (
      flock 9
      cd "$root/edge"
      HABANERO_EDGE_WASM_DIR="$wasm_dir" HABANERO_EDGE_CONFIG="$extensions" \
      CARGO_TARGET_DIR="$target" \
        nice -n 10 cargo build --release --locked --target wasm32-wasip1 >&2
      cp "$target/wasm32-wasip1/release/habanero-edge.wasm" "$out/bin/main.wasm.tmp"
    ) 9>"$cache_root/edge/.build.lock"
    mv "$out/bin/main.wasm.tmp" "$out/bin/main.wasm"
    # The package: <name>/fastly.toml and <name>/bin/main.wasm, as Fastly's CLI packs and
    # checks it (both offline).
    fastly=$("$root/scripts/install-fastly-cli.sh")
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
    cp "$root/edge/fastly.toml" "$stage/"
    (cd "$stage" && "$fastly" compute pack --non-interactive --wasm-binary "$out/bin/main.wasm" >"$stage/pack.log" 2>&1) ||
      die "fastly compute pack failed: $(cat "$stage/pack.log")"
    "$fastly" compute validate --package "$stage/pkg/habanero-edge.tar.gz" >"$stage/validate.log" 2>&1 ||
      die "fastly compute validate failed: $(cat "$stage/validate.log")"
    mv "$stage/pkg/habanero-edge.tar.gz" "$out/pkg/habanero-edge.tar.gz"
    echo ">> edge program $out/bin/main.wasm ($(( $(stat -c %s "$out/bin/main.wasm") / 1024 )) KiB), package $out/pkg/habanero-edge.tar.gz, in $(( $(date +%s) - start )) s" >&2
    ;;
  *)
    die "unknown command '$1' (tools, build)"
    ;;
esac
