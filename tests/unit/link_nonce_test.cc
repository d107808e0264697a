#include <gtest/gtest.h>

#include "agent/rpc/link.h"

namespace zrep {
namespace {

TEST(LinkNonce, OnlyThirtyTwoLowercaseHexDigitsPass) {
  EXPECT_TRUE(valid_link_nonce("0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(valid_link_nonce(""));
  EXPECT_FALSE(valid_link_nonce("0123456789abcdef0123456789abcde"));    // 31
  EXPECT_FALSE(valid_link_nonce("0123456789abcdef0123456789abcdef0"));  // 33
  EXPECT_FALSE(valid_link_nonce("0123456789ABCDEF0123456789abcdef"));
  EXPECT_FALSE(valid_link_nonce("0123456789abcdef0123456789abcde\n"));
  EXPECT_FALSE(valid_link_nonce(std::string("0123456789abcdef0123456789abcde\0", 32)));
}

}  // namespace
}  // namespace zrep
