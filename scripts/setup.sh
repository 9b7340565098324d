#!/usr/bin/env bash
# Installs what Habanero needs to build and test on Debian 12, skipping what is
# already present. Idempotent; safe to run on every `make`.
#   scripts/setup.sh            packages for building, running and testing
#   scripts/setup.sh bench      + load generator
#   scripts/setup.sh fuzz       + clang's x86_64 runtimes (libFuzzer, sanitizers)
set -euo pipefail

packages=(
  # host build
  cmake ninja-build pkg-config g++ make curl ca-certificates
  libboost1.81-dev libssl-dev libsqlite3-dev libcurl4-openssl-dev libargon2-dev libserd-dev
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # compiler cache: a fresh clone reuses the objects of earlier builds (Makefile)
  ccache
  # guest toolchain (wasm32-wasi)
  clang-22 lld-22 wasi-libc libc++-22-dev-wasm32 libc++abi-22-dev-wasm32 libclang-rt-22-dev-wasm32
  # tests (mail_test drives a real SMTP server: aiosmtpd)
  sqlite3 python3 python3-aiosmtpd openssl
  # the PostgreSQL store: client library, and a server the tests start themselves
  libpq-dev postgresql-15
  # the cluster roles: gRPC between gateway and workers, Prometheus metrics
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc prometheus-cpp-dev
  # events on NATS JetStream: the C client (nats-server itself: scripts/build-nats-server.sh)
  libnats-dev
  # the Helm chart's test reads rendered manifests (helm itself: scripts/build-helm.sh)
  python3-yaml
)
for extra in "$@"; do
  case "$extra" in
    bench) packages+=(wrk) ;;
    fuzz) packages+=(libclang-rt-22-dev) ;;
    *) echo "setup.sh: unknown extra '$extra' (known: bench, fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo ">> installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # An old or empty package list cannot find the clang-22 backports: refresh it once.
  if ! apt-cache show clang-22 >/dev/null 2>&1 || [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1) ]]; then
    $sudo apt-get update -q >&2
  fi
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup.sh: cargo (Rust 1.95+) is required to build the Wasmtime C API; install it with rustup" >&2
  exit 1
fi
