// DispatchQueue: bounded, FIFO, deadline on the wait, stop expires the waiting.
#include "http/dispatch_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace habanero::http {
namespace {

using namespace std::chrono_literals;
using Admission = DispatchQueue::Admission;

// A latch the first task blocks on, so the others queue behind it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, open = false;
  void pass() {
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [this] { return open; });
  }
  void waitEntered() {
    std::unique_lock lock(mu);
    cv.wait(lock, [this] { return entered; });
  }
  void release() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

// Waits until nothing is queued or running (stop() would expire what waits).
void drain(const DispatchQueue& queue) {
  for (int i = 0; i < 2000; ++i) {
    DispatchQueue::Stats s = queue.stats();
    if (s.queued == 0 && s.running == 0) return;
    std::this_thread::sleep_for(5ms);
  }
  FAIL() << "the queue did not drain";
}

TEST(DispatchQueueTest, RunsTasksInOrderOnOneThread) {
  DispatchQueue queue({.threads = 1, .max_queued = 100, .queue_timeout_ms = 60'000});
  Gate gate;
  std::mutex mu;
  std::vector<int> order;
  ASSERT_TRUE(queue.submit([&](Admission) { gate.pass(); }));
  gate.waitEntered();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(queue.submit([&, i](Admission a) {
      EXPECT_EQ(a, Admission::kRun);
      std::lock_guard lock(mu);
      order.push_back(i);
    }));
  }
  gate.release();
  drain(queue);
  queue.stop();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(DispatchQueueTest, RefusesPastMaxQueued) {
  DispatchQueue queue({.threads = 1, .max_queued = 2, .queue_timeout_ms = 60'000});
  Gate gate;
  std::atomic<int> ran{0};
  ASSERT_TRUE(queue.submit([&](Admission) { gate.pass(); }));
  gate.waitEntered();
  EXPECT_TRUE(queue.submit([&](Admission) { ran++; }));
  EXPECT_TRUE(queue.submit([&](Admission) { ran++; }));
  EXPECT_FALSE(queue.submit([&](Admission) { ran += 100; }));
  EXPECT_EQ(queue.stats().rejected, 1u);
  EXPECT_EQ(queue.stats().queued, 2u);
  gate.release();
  drain(queue);
  queue.stop();
  EXPECT_EQ(ran.load(), 2);
}

TEST(DispatchQueueTest, TaskThatWaitedPastTheTimeoutIsExpired) {
  DispatchQueue queue({.threads = 1, .max_queued = 10, .queue_timeout_ms = 50});
  Gate gate;
  std::atomic<int> expired{0}, ran{0};
  // On a loaded machine even the first task can wait past the timeout before a thread
  // takes it (it failed so with a 1 ms timeout); it is counted then too.
  std::atomic<bool> first_expired{false};
  ASSERT_TRUE(queue.submit([&](Admission a) {
    first_expired = a == Admission::kExpired;
    gate.pass();
  }));
  gate.waitEntered();
  ASSERT_TRUE(queue.submit([&](Admission a) { (a == Admission::kExpired ? expired : ran)++; }));
  std::this_thread::sleep_for(150ms);
  gate.release();
  queue.stop();
  EXPECT_EQ(expired.load(), 1);
  EXPECT_EQ(ran.load(), 0);
  EXPECT_EQ(queue.stats().expired, first_expired ? 2u : 1u);
}

TEST(DispatchQueueTest, StopExpiresWaitingTasksAndRefusesNewOnes) {
  auto queue = std::make_unique<DispatchQueue>(
      DispatchQueue::Options{.threads = 1, .max_queued = 10, .queue_timeout_ms = 60'000});
  Gate gate;
  std::atomic<int> expired{0};
  ASSERT_TRUE(queue->submit([&](Admission) { gate.pass(); }));
  gate.waitEntered();
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(queue->submit([&](Admission a) { expired += a == Admission::kExpired; }));
  std::thread stopper([&] { queue->stop(); });
  std::this_thread::sleep_for(20ms);
  gate.release();
  stopper.join();
  EXPECT_EQ(expired.load(), 3);
  EXPECT_FALSE(queue->submit([](Admission) {}));
}

TEST(DispatchQueueTest, RunsUpToThreadsTasksAtOnce) {
  DispatchQueue queue({.threads = 3, .max_queued = 10, .queue_timeout_ms = 60'000});
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0, peak = 0;
  bool open = false;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(queue.submit([&](Admission) {
      std::unique_lock lock(mu);
      peak = std::max(peak, ++inside);
      cv.notify_all();
      cv.wait(lock, [&] { return open; });
      --inside;
    }));
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return inside == 3; }));
    EXPECT_EQ(queue.stats().queued, 3u);
    open = true;
    cv.notify_all();
  }
  queue.stop();
  EXPECT_EQ(peak, 3);
}

// A lane at its limit holds no thread: later tasks of other lanes run while
// the lane's next task waits, and it starts as soon as a slot frees.
TEST(DispatchQueueTest, AFullLaneWaitsWithoutHoldingThreads) {
  DispatchQueue queue({.threads = 4, .max_queued = 100, .queue_timeout_ms = 60'000});
  const DispatchQueue::Lane slow{"slow", 2};
  Gate first, second;
  ASSERT_TRUE(queue.submit([&](Admission) { first.pass(); }, slow));
  ASSERT_TRUE(queue.submit([&](Admission) { second.pass(); }, slow));
  first.waitEntered();
  second.waitEntered();

  std::mutex mu;
  std::vector<std::string> order;
  auto record = [&](std::string what) {
    std::lock_guard lock(mu);
    order.push_back(std::move(what));
  };
  std::atomic<bool> third_ran{false};
  ASSERT_TRUE(queue.submit([&](Admission a) {
    EXPECT_EQ(a, Admission::kRun);
    third_ran = true;
    record("slow-3");
  }, slow));
  // Two threads are free; the other lane's tasks take them although the
  // third slow task was queued first.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(queue.submit([&, i](Admission a) {
      EXPECT_EQ(a, Admission::kRun);
      record("fast-" + std::to_string(i));
    }, DispatchQueue::Lane{"fast", 2}));
  }
  auto done = [&] {
    std::lock_guard lock(mu);
    return order.size();
  };
  for (int i = 0; i < 2000 && done() < 5; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(done(), 5u) << "the other lane's tasks ran while the slow lane was full";
  EXPECT_FALSE(third_ran.load()) << "the slow lane never exceeds its limit";
  EXPECT_EQ(queue.stats().queued, 1u);

  first.release();  // a slot frees: the waiting slow task starts
  for (int i = 0; i < 2000 && !third_ran.load(); ++i) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(third_ran.load()) << "started while the second slow task still ran";
  second.release();
  drain(queue);
  std::lock_guard lock(mu);
  EXPECT_EQ(order.back(), "slow-3");
}

// A task whose lane stays full still gets its answer (kExpired) on time.
TEST(DispatchQueueTest, ATaskWaitingForAFullLaneExpires) {
  DispatchQueue queue({.threads = 2, .max_queued = 100, .queue_timeout_ms = 50});
  const DispatchQueue::Lane one{"one", 1};
  Gate gate;
  ASSERT_TRUE(queue.submit([&](Admission) { gate.pass(); }, one));
  gate.waitEntered();
  std::atomic<int> expired{0};
  std::atomic<int> ran{0};
  ASSERT_TRUE(queue.submit([&](Admission a) {
    (a == Admission::kExpired ? expired : ran)++;
  }, one));
  for (int i = 0; i < 2000 && expired.load() + ran.load() == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(expired.load(), 1) << "answered while its lane was still full";
  EXPECT_EQ(ran.load(), 0);
  gate.release();
  drain(queue);
  EXPECT_EQ(queue.stats().expired, 1u);
}

}  // namespace
}  // namespace habanero::http
