#include "runtime/guest_memory.h"

#include <gtest/gtest.h>

#include <vector>

namespace habanero::runtime {
namespace {

TEST(GuestMemory, SliceChecksBoundsAndOverflow) {
  std::vector<uint8_t> buf(100);
  GuestMemory mem(buf.data(), buf.size());
  EXPECT_TRUE(mem.slice(0, 100).has_value());
  EXPECT_TRUE(mem.slice(100, 0).has_value());
  EXPECT_FALSE(mem.slice(101, 0).has_value());
  EXPECT_FALSE(mem.slice(0, 101).has_value());
  EXPECT_FALSE(mem.slice(99, 2).has_value());
  EXPECT_FALSE(mem.slice(0xFFFFFF00u, 0xFFFFFFFFu).has_value());  // wraps in 32 bits
  EXPECT_FALSE(mem.slice(0xFFFFFFFFu, 1).has_value());
  EXPECT_FALSE(GuestMemory().slice(0, 0).has_value());
}

TEST(GuestMemory, WritesLittleEndianScalarsInBoundsOnly) {
  std::vector<uint8_t> buf(12, 0);
  GuestMemory mem(buf.data(), buf.size());
  EXPECT_TRUE(mem.writeU32(0, 0x01020304));
  EXPECT_EQ(buf[0], 0x04);
  EXPECT_EQ(buf[3], 0x01);
  EXPECT_TRUE(mem.writeI64(4, -1));
  EXPECT_EQ(buf[11], 0xFF);
  EXPECT_FALSE(mem.writeU32(9, 1));
  EXPECT_FALSE(mem.writeI64(5, 1));
}

}  // namespace
}  // namespace habanero::runtime
