// Per-request cost of the extension runtime against a native route.
//
// Every benchmark runs one request on the calling thread with a runtime built
// the way the server builds it (SqliteStorage, KeyStore, one Engine with the
// pooling allocator and epoch ticker, extensions loaded by ExtensionRouter)
// from the test modules the build produced in HABANERO_WASM_OUT:
//
//   BM_Native_NoopRoute            a Dispatcher answering 200: the baseline
//   BM_Store_Create                Store + limiter + deadline + WASI context, no instance
//   BM_Store_CreateAndInstantiate  the above + instantiating noop from its InstancePre
//   BM_Extension_NoopHandle        Extension::handle of noop (no router)
//   BM_Extension_NoopRoundTrip     ExtensionRouter::dispatch of GET /noop/
//   BM_Extension_HostCallRoundTrip ... of GET /hostcall/ (request_get + response_write)
//   BM_Extension_Hello             ... of GET /hello/ (query, setting, respond, log)
//
// Log lines go to a null sink at level info: formatting is measured, I/O is
// not. Each benchmark reports `minflt`, the minor page faults of its thread per
// iteration (pages of linear memory the guest touched for the first time).
// Run with scripts/bench.sh (make bench); figures in docs/performance.md.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "crypto/key_store.h"
#include "habanero/dispatch.h"
#include "habanero/storage.h"
#include "runtime/engine.h"
#include "runtime/extension.h"
#include "runtime/host_calls.h"
#include "runtime/router.h"
#include "runtime/extension_spec.h"
#include "store/sqlite/sqlite_storage.h"

namespace habanero::runtime {
namespace {

std::string wasmPath(const std::string& name) {
  return std::string(HABANERO_WASM_OUT) + "/" + name + ".wasm";
}

ExtensionSpec configFor(const std::string& name, std::vector<std::string> grants) {
  ExtensionSpec c;  // memory, table and deadline limits: the defaults (limits.h)
  c.name = name;
  c.module = wasmPath(name);
  c.mount = "/" + name;
  c.grants.capabilities = std::move(grants);
  return c;
}

Request get(const std::string& path) {
  Request r;
  r.method = "GET";
  r.path = path;
  r.remote_addr = "127.0.0.1";
  r.headers = {{"Host", "localhost"}, {"User-Agent", "runtime_bench"}, {"Accept", "*/*"}};
  return r;
}

// The baseline: a native route that answers like noop does (200, no body).
class NoopDispatcher final : public Dispatcher {
 public:
  Response dispatch(const Request& request) override {
    Response r;
    r.status = 200;
    return r;
  }
};

ptrdiff_t discardOutput(void*, const unsigned char*, size_t len) {
  return static_cast<ptrdiff_t>(len);
}

// One runtime for the whole process, built on first use. Members are destroyed
// in reverse order: InstancePre and module, then the router, then the engine.
struct Runtime {
  std::string dir;
  StoragePtr storage;
  std::unique_ptr<crypto::KeyStore> keys;
  HostServices services;
  EnginePtr engine;
  std::unique_ptr<ExtensionRouter> router;
  ExtensionPtr noop;          // as loaded by the router
  ModulePtr noop_module;      // a separate compile, for the Store benchmarks
  InstancePrePtr noop_pre;
  std::string error;          // set when set-up failed

  ~Runtime() {
    noop_pre.reset();
    noop_module.reset();
    noop.reset();
    router.reset();
    engine.reset();
    keys.reset();
    storage.reset();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }

  void setUp() {
    auto logger = std::make_shared<spdlog::logger>(
        "bench", std::make_shared<spdlog::sinks::null_sink_mt>());
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);

    char tmpl[] = "/tmp/habanero-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return fail("mkdtemp failed");
    dir = tmpl;
    auto st = store::SqliteStorage::open(dir + "/habanero.db", SystemClock::instance());
    if (!st.ok()) return fail(st.status().ToString());
    storage = std::move(*st);
    auto k = crypto::KeyStore::open(*storage, SystemClock::instance(), crypto::KeyStoreOptions{});
    if (!k.ok()) return fail(k.status().ToString());
    keys = std::move(*k);
    services.storage = storage.get();
    services.signer = keys.get();

    EngineOptions options;  // the server's defaults (pool of 256, 5 ms epoch)
    options.cache_dir = dir + "/cache";
    auto e = Engine::create(options);
    if (!e.ok()) return fail(e.status().ToString());
    engine = std::move(*e);

    router = std::make_unique<ExtensionRouter>(*engine, services, "");
    ExtensionSpec hello =
        configFor("hello", {"http", "log", "kv", "clock", "settings", "crypto"});
    hello.settings["greeting"] = "Hello";
    ReloadReport report = router->load(
        {configFor("noop", {"http"}), configFor("hostcall", {"http"}), std::move(hello)});
    if (report.failed != 0) {
      std::string all;
      for (const std::string& m : report.errors) all += m + "; ";
      return fail("loading extensions: " + all);
    }
    for (const LoadedExtension& entry : router->snapshot()->entries) {
      if (entry.spec.name == "noop") noop = entry.extension;
    }

    std::ifstream in(wasmPath("noop"), std::ios::binary);
    std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    auto m = engine->compile(bytes, "noop.wasm");
    if (!m.ok()) return fail(m.status().ToString());
    noop_module = std::move(*m);
    wasmtime_instance_pre_t* pre = nullptr;
    ErrorPtr err(wasmtime_linker_instantiate_pre(engine->linker(), noop_module.get(), &pre));
    if (err) return fail("instantiate_pre: " + errorMessage(err.get()));
    noop_pre.reset(pre);
  }

  void fail(std::string message) { error = std::move(message); }
};

Runtime& runtime() {
  static Runtime* rt = [] {
    auto* r = new Runtime();
    r->setUp();
    std::atexit([] { delete rt; });
    return r;
  }();
  return *rt;
}

// Reports the calling thread's minor page faults per iteration as "minflt".
class FaultCounter {
 public:
  explicit FaultCounter(benchmark::State& state) : state_(state), start_(now()) {}
  ~FaultCounter() {
    state_.counters["minflt"] =
        benchmark::Counter(static_cast<double>(now() - start_), benchmark::Counter::kAvgIterations);
  }

 private:
  static long now() {
    rusage u;
    getrusage(RUSAGE_THREAD, &u);
    return u.ru_minflt;
  }
  benchmark::State& state_;
  long start_;
};

// Skips the benchmark unless the runtime is up and `path` answers `status`.
bool ready(benchmark::State& state, const std::string& path = "", int status = 200) {
  Runtime& rt = runtime();
  if (!rt.error.empty()) {
    state.SkipWithError(rt.error.c_str());
    return false;
  }
  if (!path.empty()) {
    Response r = rt.router->dispatch(get(path));
    if (r.status != status) {
      static std::string message;
      message = path + " answered " + std::to_string(r.status) + ": " + r.body;
      state.SkipWithError(message.c_str());
      return false;
    }
  }
  return true;
}

void BM_Native_NoopRoute(benchmark::State& state) {
  NoopDispatcher native;
  Dispatcher* dispatcher = &native;
  benchmark::DoNotOptimize(dispatcher);  // keep the virtual call
  const Request request = get("/native/");
  FaultCounter faults(state);
  for (auto _ : state) {
    Response r = dispatcher->dispatch(request);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Native_NoopRoute);

// What Extension::handle does before it instantiates, timed alone.
void BM_Store_Create(benchmark::State& state) {
  if (!ready(state)) return;
  Runtime& rt = runtime();
  FaultCounter faults(state);
  for (auto _ : state) {
    HostState st;
    StorePtr store(wasmtime_store_new(rt.engine->raw(), &st, nullptr));
    wasmtime_store_limiter(store.get(), static_cast<int64_t>(limits::kMemoryBytes),
                           limits::kTableElements, 1, 1, 1);
    wasmtime_context_t* ctx = wasmtime_store_context(store.get());
    wasmtime_context_set_epoch_deadline(ctx, rt.engine->ticksFor(limits::kDeadlineMs));
    wasi_config_t* wasi = wasi_config_new();
    wasi_config_set_stdout_custom(wasi, discardOutput, nullptr, nullptr);
    wasi_config_set_stderr_custom(wasi, discardOutput, nullptr, nullptr);
    ErrorPtr err(wasmtime_context_set_wasi(ctx, wasi));
    if (err) {
      state.SkipWithError("wasmtime_context_set_wasi failed");
      break;
    }
    benchmark::DoNotOptimize(ctx);
  }
}
BENCHMARK(BM_Store_Create);

// A fresh Store and an instance of noop from its InstancePre, set up exactly as
// Extension::handle does; the entry point is not called.
void BM_Store_CreateAndInstantiate(benchmark::State& state) {
  if (!ready(state)) return;
  Runtime& rt = runtime();
  FaultCounter faults(state);
  for (auto _ : state) {
    HostState st;
    StorePtr store(wasmtime_store_new(rt.engine->raw(), &st, nullptr));
    wasmtime_store_limiter(store.get(), static_cast<int64_t>(limits::kMemoryBytes),
                           limits::kTableElements, 1, 1, 1);
    wasmtime_context_t* ctx = wasmtime_store_context(store.get());
    wasmtime_context_set_epoch_deadline(ctx, rt.engine->ticksFor(limits::kDeadlineMs));
    wasi_config_t* wasi = wasi_config_new();
    wasi_config_set_stdout_custom(wasi, discardOutput, nullptr, nullptr);
    wasi_config_set_stderr_custom(wasi, discardOutput, nullptr, nullptr);
    ErrorPtr err(wasmtime_context_set_wasi(ctx, wasi));
    wasmtime_instance_t instance;
    wasm_trap_t* trap = nullptr;
    ErrorPtr ierr(wasmtime_instance_pre_instantiate(rt.noop_pre.get(), ctx, &instance, &trap));
    TrapPtr owned_trap(trap);
    if (err || ierr || owned_trap) {
      state.SkipWithError("instantiating noop failed");
      break;
    }
    benchmark::DoNotOptimize(instance);
  }
}
BENCHMARK(BM_Store_CreateAndInstantiate);

void BM_Extension_NoopHandle(benchmark::State& state) {
  if (!ready(state, "/noop/")) return;
  const Extension& noop = *runtime().noop;
  const Request request = get("/noop/");
  FaultCounter faults(state);
  for (auto _ : state) {
    Response r = noop.handle(request);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Extension_NoopHandle);

void roundTrip(benchmark::State& state, const std::string& path) {
  if (!ready(state, path)) return;
  Dispatcher& router = *runtime().router;
  const Request request = get(path);
  FaultCounter faults(state);
  for (auto _ : state) {
    Response r = router.dispatch(request);
    benchmark::DoNotOptimize(r);
  }
}

void BM_Extension_NoopRoundTrip(benchmark::State& state) { roundTrip(state, "/noop/"); }
BENCHMARK(BM_Extension_NoopRoundTrip);

void BM_Extension_HostCallRoundTrip(benchmark::State& state) { roundTrip(state, "/hostcall/"); }
BENCHMARK(BM_Extension_HostCallRoundTrip);

void BM_Extension_Hello(benchmark::State& state) { roundTrip(state, "/hello/"); }
BENCHMARK(BM_Extension_Hello);

}  // namespace
}  // namespace habanero::runtime

BENCHMARK_MAIN();
