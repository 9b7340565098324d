// The dispatch queue: where requests wait for a thread that may block.
//
// The io threads of the HTTP front only parse and write; everything a request
// does beyond that (an extension instance, a host call that waits on the
// network, Argon2id, a database round trip) runs on one of this queue's
// threads. The queue is bounded in both directions, so overload turns into
// quick 503s instead of a collapse:
//
//   DispatchQueue queue({.threads = 32, .max_queued = 1024, .queue_timeout_ms = 2000});
//   if (!queue.submit([&](DispatchQueue::Admission a) {
//         if (a == DispatchQueue::Admission::kExpired) answer503(); else run();
//       })) {
//     answer503();  // the queue is full
//   }
//
// Contract:
//   - submit() never blocks. It refuses (returns false, the task is dropped
//     uncalled) when max_queued tasks are already waiting or the queue stopped.
//   - An accepted task is called exactly once, on a queue thread: with kRun,
//     or with kExpired when it waited longer than queue_timeout_ms (it should
//     then answer at once, e.g. 503 + Retry-After) or the queue is stopping.
//   - Tasks run in submission order (FIFO); at most `threads` at a time.
//   - Lanes: a task submitted with a Lane {name, limit > 0} runs only while
//     fewer than `limit` tasks of that lane run; the others of the lane wait
//     in the queue (holding no thread) while later tasks of other lanes run.
//     So an extension that waits long (slow upstreams) can hold at most its
//     limit of threads. A task still expires after queue_timeout_ms whether
//     or not its lane is full. Lane "" or limit 0: no lane limit.
//   - stop() calls every waiting task with kExpired, waits for running ones
//     and joins the threads. Idempotent; the destructor calls it. It must not
//     be called from a task.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "habanero/limits.h"

namespace habanero::http {

class DispatchQueue {
 public:
  struct Options {
    uint32_t threads = limits::kDispatchThreads;  // 0: one
    size_t max_queued = limits::kMaxQueuedRequests;
    uint32_t queue_timeout_ms = limits::kQueueTimeoutMs;
  };
  enum class Admission { kRun, kExpired };
  using Task = std::function<void(Admission)>;
  struct Lane {
    std::string name;    // e.g. the extension's name; "" for none
    uint32_t limit = 0;  // most tasks of the lane running at once; 0: no limit
  };

  // Counters since construction, for logs, metrics and tests.
  struct Stats {
    size_t queued = 0;     // waiting now
    size_t running = 0;    // on a thread now
    uint64_t rejected = 0; // submit() returned false
    uint64_t expired = 0;  // called with kExpired
  };

  explicit DispatchQueue(Options options);
  ~DispatchQueue();
  DispatchQueue(const DispatchQueue&) = delete;
  DispatchQueue& operator=(const DispatchQueue&) = delete;

  bool submit(Task task);  // no lane
  bool submit(Task task, Lane lane);
  void stop();
  Stats stats() const;

 private:
  struct Item {
    Task task;
    std::chrono::steady_clock::time_point enqueued;
    Lane lane;
  };
  void work();
  // The index of the first item that may start now (expired, or its lane has
  // room), or queue_.size() if none.
  size_t nextLocked(std::chrono::steady_clock::time_point now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;       // idle threads: a task was queued
  std::condition_variable lane_wake_;  // threads that found every queued task's lane full
  size_t lane_waiting_ ABSL_GUARDED_BY(mu_) = 0;  // how many wait on lane_wake_
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  std::unordered_map<std::string, uint32_t> lane_running_ ABSL_GUARDED_BY(mu_);
  uint64_t rejected_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t expired_ ABSL_GUARDED_BY(mu_) = 0;
  std::mutex join_mu_;  // serialises stop()
  std::vector<std::thread> threads_;
};

}  // namespace habanero::http
