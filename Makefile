# Habanero's front door. Everything installs what it needs first (idempotent).
#   make run     build and start on http://localhost:8080
#   make test    build and run the whole test suite
#   make edge    the Fastly Compute package (edge/bin/main.wasm, edge/pkg/; docs/edge.md);
#                EDGE_EXTENSIONS=edge/extensions.login-at-origin.toml for login at the origin
#   make bench   Google Benchmark + wrk figures + comparison with peers (docs/performance.md)
#   make fuzz    libFuzzer targets (clang-22) in build-fuzz/
#   make asan / make tsan   test suites under sanitizers
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
EDGE_EXTENSIONS ?= edge/extensions.toml
, := ,

.PHONY: all setup wasmtime configure build run test edge bench fuzz asan tsan clean

all: build

setup:
	@scripts/setup.sh

wasmtime: setup
	@scripts/build-wasmtime.sh >/dev/null

# C and C++ compile through ccache (scripts/setup.sh installs it) into the cache every clone
# on this machine shares: paths are taken relative to the clone and its directory is not
# hashed, so a fresh clone anywhere reuses the objects; ccache keys them by content.
HABANERO_CACHE ?= $(or $(HABANERO_CACHE_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/habanero)
export CCACHE_DIR ?= $(HABANERO_CACHE)/ccache
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
export CCACHE_MAXSIZE ?= 5G

# $(1): build dir, $(2): extra CMake flags
define configure
	@stage=$$(scripts/build-wasmtime.sh) && \
	  launcher=$$(command -v ccache >/dev/null && \
	    echo "-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache" || true) && \
	  cmake -S . -B $(1) -G Ninja -DHABANERO_WASMTIME_DIR=$$stage $$launcher $(2) $(CMAKE_FLAGS) \
	    >$(1).configure.log 2>&1 \
	  || { cat $(1).configure.log; exit 1; }
endef

build: setup
	$(call configure,$(BUILD),)
	@echo ">> building ($(BUILD))"
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	@$(BUILD)/src/cli/habanero serve --data-dir data

test: build
	@scripts/setup-edge.sh >/dev/null  # Viceroy and the Fastly CLI for the edge tests (once, into the cache)
	@# Go programs the tests run, built once into the cache (scripts/build-go-tool.sh):
	@scripts/build-nats-server.sh >/dev/null  # the events broker tests
	@scripts/build-helm.sh >/dev/null          # the Helm chart's checks
	@scripts/build-oauth2-proxy.sh >/dev/null  # the email_verified check (e2e_oauth2_proxy)
	@scripts/test.sh $(BUILD)

edge: build
	@scripts/setup-edge.sh build $(BUILD)/wasm edge $(EDGE_EXTENSIONS)

bench: setup
	@scripts/setup.sh bench
	$(call configure,build-bench,-DCMAKE_BUILD_TYPE=Release -DHABANERO_BUILD_BENCH=ON -DHABANERO_BUILD_TESTS=OFF)
	@cmake --build build-bench -j$(JOBS)
	@scripts/bench.sh build-bench
	@# The comparison with node-oidc-provider, Keycloak and nginx (BENCH_COMPARE=0 skips it;
	@# BENCH_QUICK=1 shortens everything): installs them into ~/.cache/habanero/bench first.
	@[ "$${BENCH_COMPARE:-1}" = 0 ] || scripts/bench-peers.sh build-bench

fuzz: setup
	@scripts/setup.sh fuzz
	$(call configure,build-fuzz,-DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 -DHABANERO_FUZZ=ON -DHABANERO_BUILD_TESTS=OFF)
	@cmake --build build-fuzz -j$(JOBS)
	@echo ">> fuzzers in build-fuzz/fuzz/; run one with e.g. build-fuzz/fuzz/http_request_fuzzer fuzz/corpus/http_request_fuzzer -max_total_time=60"

asan: setup
	@scripts/setup.sh fuzz
	$(call configure,build-asan,-DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 -DHABANERO_SANITIZE=address$(,)undefined)
	@cmake --build build-asan -j$(JOBS)
	@scripts/test.sh build-asan

tsan: setup
	@scripts/setup.sh fuzz
	$(call configure,build-tsan,-DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 -DHABANERO_SANITIZE=thread)
	@cmake --build build-tsan -j$(JOBS)
	@# Wasmtime handles traps with signal handlers that TSan calls unsafe; see scripts/tsan.supp.
	@TSAN_OPTIONS="report_signal_unsafe=0 suppressions=$(CURDIR)/scripts/tsan.supp external_symbolizer_path=$$(command -v llvm-symbolizer)" scripts/test.sh build-tsan

clean:
	rm -rf build build-bench build-fuzz build-asan build-tsan *.configure.log
