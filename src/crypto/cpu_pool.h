// A small pool of low-priority threads for CPU-heavy host work (Argon2id).
//
//   absl::StatusOr<bool> ok = CpuPool::passwordHashing().run([&] { return verify(...); });
//
// Why: one Argon2id verification costs tens of milliseconds of one core. Run on
// the threads that serve requests, a burst of (wrong) logins or client secrets
// would take every core from token requests. Here at most threads() run at
// once (one per core but one, at least one), at nice +10, so the scheduler
// prefers request threads whenever both want the CPU; callers beyond that wait
// their turn in FIFO order.
//
// run() blocks the calling thread (a dispatch thread, never an io thread) until
// `fn` has run on a pool thread, and returns its result. Thread-safe. Must not
// be called from a pool thread (it would wait on itself).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace habanero::crypto {

class CpuPool {
 public:
  // `threads` 0: one per core but one (at least one).
  explicit CpuPool(uint32_t threads, int nice = 10);
  ~CpuPool();
  CpuPool(const CpuPool&) = delete;
  CpuPool& operator=(const CpuPool&) = delete;

  // The process-wide pool for password and secret hashing, started on first use.
  static CpuPool& passwordHashing();

  template <class F>
  std::invoke_result_t<F> run(F&& fn) {
    using R = std::invoke_result_t<F>;
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(fn));
    std::future<R> result = task->get_future();
    post([task] { (*task)(); });
    return result.get();
  }

  uint32_t threads() const { return static_cast<uint32_t>(threads_.size()); }
  // How many tasks have started (counted before they run), for tests.
  uint64_t started() const;

 private:
  void post(std::function<void()> task);
  void work(int nice);

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t started_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_;
};

}  // namespace habanero::crypto
