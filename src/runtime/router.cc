#include "runtime/router.h"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "habanero/strings.h"

namespace habanero::runtime {

ExtensionRouter::ExtensionRouter(Engine& engine, const HostServices& services,
                                 std::string extension_dir)
    : engine_(engine), services_(services), extension_dir_(std::move(extension_dir)) {
  current_ = std::make_shared<const ExtensionSet>();
}

ExtensionRouter::~ExtensionRouter() {
  {
    std::lock_guard lock(watch_mu_);
    stop_watching_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

std::string ExtensionRouter::resolve(const std::string& module) const {
  if (module.empty() || module[0] == '/' || extension_dir_.empty()) return module;
  return strCat(extension_dir_, "/", module);
}

ReloadReport ExtensionRouter::load(const std::vector<ExtensionSpec>& specs) {
  std::lock_guard lock(load_mu_);
  specs_ = specs;
  std::shared_ptr<const ExtensionSet> old = snapshot();
  auto next = std::make_shared<ExtensionSet>();
  ReloadReport report;

  for (const ExtensionSpec& cfg : specs) {
    LoadedExtension entry;
    entry.spec = cfg;
    entry.module_path = resolve(cfg.module);
    entry.module_stamp = FileStamp::of(entry.module_path);
    entry.manifest_stamp = FileStamp::of(Extension::manifestPathFor(entry.module_path));
    const LoadedExtension* previous = nullptr;
    for (const LoadedExtension& e : old->entries) {
      if (e.spec.name == cfg.name) previous = &e;
    }
    if (previous && previous->extension && previous->error.empty() && previous->spec == cfg &&
        previous->module_path == entry.module_path &&
        previous->module_stamp == entry.module_stamp &&
        previous->manifest_stamp == entry.manifest_stamp) {
      entry.extension = previous->extension;
      report.reused++;
    } else {
      auto loaded = Extension::load(engine_, cfg, entry.module_path, services_);
      if (loaded.ok()) {
        entry.extension = *loaded;
        report.loaded++;
        spdlog::info("extension '{}' loaded from {} at {}", cfg.name, entry.module_path,
                     cfg.mount);
      } else {
        entry.error = std::string(loaded.status().message());
        report.failed++;
        report.errors.push_back(entry.error);
        if (previous && previous->extension && previous->spec.mount == cfg.mount) {
          entry.extension = previous->extension;
          spdlog::error("extension '{}' not reloaded, keeping the running version: {}",
                        cfg.name, entry.error);
        } else {
          spdlog::error("extension '{}' not loaded: {}", cfg.name, entry.error);
        }
      }
    }
    next->entries.push_back(std::move(entry));
  }
  std::stable_sort(next->entries.begin(), next->entries.end(),
                   [](const LoadedExtension& a, const LoadedExtension& b) {
                     return a.spec.mount.size() > b.spec.mount.size();
                   });
  {
    std::lock_guard<std::mutex> lock(current_mu_);
    current_ = std::move(next);
  }
  return report;
}

ReloadReport ExtensionRouter::reload() {
  std::vector<ExtensionSpec> specs;
  {
    std::lock_guard lock(load_mu_);
    specs = specs_;
  }
  return load(specs);
}

bool ExtensionRouter::changedOnDisk() const {
  std::shared_ptr<const ExtensionSet> set = snapshot();
  for (const LoadedExtension& e : set->entries) {
    if (e.module_stamp != FileStamp::of(e.module_path) ||
        e.manifest_stamp != FileStamp::of(Extension::manifestPathFor(e.module_path))) {
      return true;
    }
  }
  return false;
}

void ExtensionRouter::startWatching(uint32_t interval_ms) {
  if (interval_ms == 0 || watcher_.joinable()) return;
  watcher_ = std::thread([this, interval_ms] {
    std::unique_lock lock(watch_mu_);
    while (!watch_cv_.wait_for(lock, std::chrono::milliseconds(interval_ms),
                               [this] { return stop_watching_; })) {
      lock.unlock();
      if (changedOnDisk()) {
        ReloadReport r = reload();
        spdlog::info("extension files changed: {} reloaded, {} unchanged, {} failed", r.loaded,
                     r.reused, r.failed);
      }
      lock.lock();
    }
  });
}

namespace {

// Whether `path` has a "." or ".." segment, plain or percent-encoded. Such
// paths are refused rather than normalised, so that no two spellings of a
// path can reach different mounts here and behind a proxy.
bool hasDotSegment(std::string_view path) {
  size_t start = 0;
  for (;;) {
    size_t end = path.find('/', start);
    std::string_view seg = path.substr(start, end == std::string_view::npos ? end : end - start);
    size_t dots = 0, i = 0;
    while (i < seg.size()) {
      if (seg[i] == '.') {
        i += 1;
      } else if (seg.size() - i >= 3 && seg[i] == '%' && seg[i + 1] == '2' &&
                 (seg[i + 2] == 'e' || seg[i + 2] == 'E')) {
        i += 3;
      } else {
        break;
      }
      ++dots;
    }
    if (i == seg.size() && (dots == 1 || dots == 2)) return true;
    if (end == std::string_view::npos) return false;
    start = end + 1;
  }
}

}  // namespace

const LoadedExtension* ExtensionRouter::match(const ExtensionSet& set, std::string_view path,
                                              std::string_view* sub) {
  for (const LoadedExtension& e : set.entries) {  // longest mount first
    const std::string& mount = e.spec.mount;
    if (mount == "/") {
      *sub = path;
    } else if (path == mount) {
      *sub = "/";
    } else if (path.starts_with(mount) && path.size() > mount.size() && path[mount.size()] == '/') {
      *sub = path.substr(mount.size());
    } else {
      continue;
    }
    return &e;
  }
  return nullptr;
}

std::pair<std::string, uint32_t> ExtensionRouter::concurrencyOf(std::string_view path) const {
  std::shared_ptr<const ExtensionSet> set = snapshot();
  std::string_view sub;
  const LoadedExtension* e = match(*set, path, &sub);
  if (e == nullptr) return {"", 0};
  return {e->spec.name, e->spec.limits.max_concurrency};
}

Response ExtensionRouter::dispatch(const Request& request) {
  if (hasDotSegment(request.path)) return Response::text(400, "bad request: dot segment in path\n");
  std::shared_ptr<const ExtensionSet> set = snapshot();
  std::string_view sub;
  const LoadedExtension* e = match(*set, request.path, &sub);
  if (e == nullptr) return Response::text(404, "not found\n");
  if (!e->extension) return Response::text(503, "extension unavailable\n");
  if (!e->extension->manifest().matchesRoute(sub)) return Response::text(404, "not found\n");
  Response response = e->extension->handle(request);
  // A 503 (the store unreachable, the server busy) tells the client when to try again.
  if (response.status == 503 && findHeader(response.headers, "Retry-After") == nullptr) {
    response.headers.emplace_back("Retry-After", "1");
  }
  return response;
}

}  // namespace habanero::runtime
