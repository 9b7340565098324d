#include "crypto/cpu_pool.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

namespace habanero::crypto {

CpuPool::CpuPool(uint32_t threads, int nice) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency() - 1);
  threads_.reserve(threads);
  for (uint32_t i = 0; i < threads; ++i) threads_.emplace_back([this, nice] { work(nice); });
}

CpuPool::~CpuPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

CpuPool& CpuPool::passwordHashing() {
  static CpuPool* pool = new CpuPool(0);  // never destroyed: callers may run at exit
  return *pool;
}

void CpuPool::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
}

uint64_t CpuPool::started() const {
  std::lock_guard lock(mu_);
  return started_;
}

void CpuPool::work(int nice) {
  // Linux: the nice value of one thread (raising it needs no privilege).
  if (nice != 0 && setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice) != 0) {
    spdlog::debug("cpu pool: could not lower thread priority");
  }
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      ++started_;
    }
    task();
  }
}

}  // namespace habanero::crypto
