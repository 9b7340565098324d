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

bool DispatchQueue::submit(Task task) { return submit(std::move(task), Lane{}); }

bool DispatchQueue::submit(Task task, Lane lane) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queued) {
      ++rejected_;
      return false;
    }
    if (lane.name.empty()) lane.limit = 0;
    queue_.push_back(Item{std::move(task), std::chrono::steady_clock::now(), std::move(lane)});
    // A thread waiting for a full lane may take this task if no thread is idle.
    if (lane_waiting_ > 0) lane_wake_.notify_one();
  }
  wake_.notify_one();
  return true;
}

size_t DispatchQueue::nextLocked(std::chrono::steady_clock::time_point now) const {
  const auto timeout = std::chrono::milliseconds(options_.queue_timeout_ms);
  for (size_t i = 0; i < queue_.size(); ++i) {
    const Item& item = queue_[i];
    if (stopping_ || item.lane.limit == 0 || now - item.enqueued > timeout) return i;
    auto it = lane_running_.find(item.lane.name);
    if (it == lane_running_.end() || it->second < item.lane.limit) return i;
  }
  return queue_.size();
}

void DispatchQueue::work() {
  const auto timeout = std::chrono::milliseconds(options_.queue_timeout_ms);
  for (;;) {
    Item item;
    Admission admission = Admission::kRun;
    {
      std::unique_lock lock(mu_);
      size_t index = 0;
      for (;;) {
        if (queue_.empty()) {
          if (stopping_) return;  // stopping and drained
          wake_.wait(lock);
          continue;
        }
        auto now = std::chrono::steady_clock::now();
        index = nextLocked(now);
        if (index < queue_.size()) break;
        // Every waiting task's lane is full: wait for a task of a lane to
        // finish, or for the oldest waiting task to expire.
        ++lane_waiting_;
        lane_wake_.wait_until(lock,
                              queue_.front().enqueued + timeout + std::chrono::milliseconds(1));
        --lane_waiting_;
      }
      item = std::move(queue_[index]);
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(index));
      if (stopping_ || std::chrono::steady_clock::now() - item.enqueued > timeout) {
        admission = Admission::kExpired;
        ++expired_;
        item.lane.limit = 0;  // an expired task does not count against its lane
      }
      ++running_;
      if (item.lane.limit > 0) ++lane_running_[item.lane.name];
    }
    item.task(admission);
    item.task = nullptr;  // release what it holds before counting it done
    std::lock_guard lock(mu_);
    --running_;
    if (item.lane.limit > 0) {
      auto it = lane_running_.find(item.lane.name);
      if (--it->second == 0) lane_running_.erase(it);
      // A task of that lane may start now. Only a thread that found every lane
      // full is woken (waking all idle threads per request cost ~150 us of CPU
      // per token at 32 threads); this thread itself looks again at once.
      if (lane_waiting_ > 0) lane_wake_.notify_one();
    }
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
  lane_wake_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

DispatchQueue::Stats DispatchQueue::stats() const {
  std::lock_guard lock(mu_);
  return Stats{queue_.size(), running_, rejected_, expired_};
}

}  // namespace habanero::http
