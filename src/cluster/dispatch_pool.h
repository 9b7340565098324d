// The worker's own threads for running extension requests: gRPC's callback
// threads only hand work over and never block on a guest.
//
//   DispatchPool pool(4, 256);
//   if (!pool.tryPost([&] { ... })) refuse();   // queue full
//   pool.stop();                                // runs what is queued, joins
//
// Thread-safe. A task must not throw.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace habanero::cluster {

class DispatchPool {
 public:
  // `threads` >= 1 run tasks; at most `max_queued` wait for one.
  DispatchPool(size_t threads, size_t max_queued);
  ~DispatchPool();  // stop()

  // False (and `task` dropped unrun) when the queue is full or stop() began.
  bool tryPost(std::function<void()> task);
  // Tasks queued or running.
  size_t pending() const;
  // Runs every queued task, then joins the threads. Idempotent.
  void stop();

 private:
  void run();

  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  size_t running_ = 0;                       // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace habanero::cluster
