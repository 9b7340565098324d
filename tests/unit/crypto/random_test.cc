#include "crypto/random.h"

#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace habanero::crypto {
namespace {

TEST(RandomTest, ReturnsTheRequestedLength) {
  for (size_t n : {0, 1, 16, 32, 1000}) {
    absl::StatusOr<std::string> bytes = randomBytes(n);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(bytes->size(), n);
  }
}

TEST(RandomTest, FillsASpanAndDiffersEachCall) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::vector<uint8_t> buf(16);
    ASSERT_EQ(randomBytes(std::span<uint8_t>(buf)), absl::OkStatus());
    seen.insert(std::string(buf.begin(), buf.end()));
  }
  EXPECT_EQ(seen.size(), 100u) << "128-bit values repeated";
}

TEST(RandomTest, UsesEveryByteValue) {
  absl::StatusOr<std::string> bytes = randomBytes(64 * 1024);
  ASSERT_TRUE(bytes.ok());
  std::set<char> values(bytes->begin(), bytes->end());
  EXPECT_EQ(values.size(), 256u);
}

}  // namespace
}  // namespace habanero::crypto
