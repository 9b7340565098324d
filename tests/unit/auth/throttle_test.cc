// Throttle: a token bucket per key, on a clock the test moves.
#include "auth/throttle.h"

#include <gtest/gtest.h>

#include <string>

#include "auth_fixture.h"

namespace habanero::auth {
namespace {

TEST(ThrottleTest, BurstOfFailuresThenOnePerRefill) {
  ManualClock clock;
  Throttle t(clock, {.burst = 3, .refill_ms = 1000});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(t.take("client:a"), 0) << i;  // three failures
  EXPECT_EQ(t.take("client:a"), 1000);
  EXPECT_EQ(t.retryAfterMs("client:a"), 1000);
  clock.advance(400);
  EXPECT_EQ(t.take("client:a"), 600);
  clock.advance(600);
  EXPECT_EQ(t.take("client:a"), 0);  // one token back
  EXPECT_EQ(t.take("client:a"), 1000);
  // Other keys are unaffected.
  EXPECT_EQ(t.take("client:b"), 0);
  EXPECT_EQ(t.retryAfterMs("addr:192.0.2.1"), 0);
}

TEST(ThrottleTest, SuccessesCostNothing) {
  ManualClock clock;
  Throttle t(clock, {.burst = 2, .refill_ms = 60'000});
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(t.take("k"), 0) << i;
    t.refund("k");
  }
  // Concurrent tries each hold a token until judged: no more than the burst at once.
  EXPECT_EQ(t.take("k"), 0);
  EXPECT_EQ(t.take("k"), 0);
  EXPECT_GT(t.take("k"), 0);
  t.refund("k");  // one of them succeeded
  EXPECT_EQ(t.take("k"), 0);
}

TEST(ThrottleTest, RefillsToTheBurstAndNoFurther) {
  ManualClock clock;
  Throttle t(clock, {.burst = 2, .refill_ms = 1000});
  t.take("k");
  t.take("k");
  EXPECT_GT(t.retryAfterMs("k"), 0);
  clock.advance(3'600'000);  // an hour: full again, but only `burst` tries
  EXPECT_EQ(t.take("k"), 0);
  EXPECT_EQ(t.take("k"), 0);
  EXPECT_EQ(t.take("k"), 1000);
}

TEST(ThrottleTest, RefusedTriesDoNotExtendTheWait) {
  ManualClock clock;
  Throttle t(clock, {.burst = 1, .refill_ms = 1000});
  t.take("k");
  for (int i = 0; i < 10; ++i) EXPECT_EQ(t.take("k"), 1000);
  clock.advance(1000);
  EXPECT_EQ(t.take("k"), 0);
}

TEST(ThrottleTest, BurstZeroThrottlesNothing) {
  ManualClock clock;
  Throttle t(clock, {.burst = 0, .refill_ms = 1000});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(t.take("k"), 0);
}

TEST(ThrottleTest, BoundedKeysForgetRefilledBucketsFirst) {
  ManualClock clock;
  Throttle t(clock, {.burst = 1, .refill_ms = 1000, .max_keys = 4});
  for (int i = 0; i < 4; ++i) t.take("old" + std::to_string(i));
  clock.advance(1000);  // all four refilled
  t.take("fresh");
  EXPECT_GT(t.retryAfterMs("fresh"), 0);
  for (int i = 0; i < 3; ++i) t.take("new" + std::to_string(i));
  EXPECT_GT(t.retryAfterMs("fresh"), 0);  // still remembered: the old ones went first
}

}  // namespace
}  // namespace habanero::auth
