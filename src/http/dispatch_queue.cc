#include "http/dispatch_queue.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace habanero::http {

DispatchQueue::DispatchQueue(Options options) : options_(options) {
  uint32_t n = std::max<uint32_t>(options_.threads, 1);
  threads_.reserve(n);
  for (uint32_t i = 0; i < n; ++i) threads_.emplace_back([this] { work(); });
}

DispatchQueue::~DispatchQueue() { stop(); }

bool DispatchQueue::submit(Task task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queued) {
      ++rejected_;
      return false;
    }
    queue_.push_back(Item{std::move(task), std::chrono::steady_clock::now()});
  }
  wake_.notify_one();
  return true;
}

void DispatchQueue::work() {
  const auto timeout = std::chrono::milliseconds(options_.queue_timeout_ms);
  for (;;) {
    Item item;
    Admission admission = Admission::kRun;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      item = std::move(queue_.front());
      queue_.pop_front();
      if (stopping_ || std::chrono::steady_clock::now() - item.enqueued > timeout) {
        admission = Admission::kExpired;
        ++expired_;
      }
      ++running_;
    }
    item.task(admission);
    item.task = nullptr;  // release what it holds before counting it done
    std::lock_guard lock(mu_);
    --running_;
  }
}

void DispatchQueue::stop() {
  std::lock_guard join(join_mu_);
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

DispatchQueue::Stats DispatchQueue::stats() const {
  std::lock_guard lock(mu_);
  return Stats{queue_.size(), running_, rejected_, expired_};
}

}  // namespace habanero::http
