#include "agent/logic/lock_table.h"

#include <gtest/gtest.h>

namespace zrep {
namespace {

using namespace std::chrono_literals;

LockOwner owner(const std::string& host, const std::string& token, const std::string& op = "sync") {
  return LockOwner{host, "inst-" + host, op, token};
}

TEST(LockTable, ASecondOwnerIsRefusedWithTheHoldersName) {
  LockTable t("beta");
  ASSERT_TRUE(t.acquire("pool/fs", owner("alpha", "t1", "failover"), 60s).is_ok());
  auto s = t.acquire("pool/fs", owner("beta", "t2"), 60s);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), ErrorCode::kConflict);
  EXPECT_NE(s.message().find("pool/fs on beta is locked by alpha (agent inst-alpha) for "
                             "'failover' since "),
            std::string::npos)
      << s.message();
  EXPECT_TRUE(t.acquire("pool/other", owner("beta", "t2"), 60s).is_ok());
}

TEST(LockTable, TheSameTokenRenewsAndReleaseFreesIt) {
  LockTable t("beta");
  ASSERT_TRUE(t.acquire("pool/fs", owner("alpha", "t1"), 60s).is_ok());
  EXPECT_TRUE(t.acquire("pool/fs", owner("alpha", "t1"), 60s).is_ok());
  t.release("pool/fs", "t2");  // not the holder: no effect
  EXPECT_TRUE(t.holder("pool/fs").has_value());
  t.release("pool/fs", "t1");
  EXPECT_FALSE(t.holder("pool/fs").has_value());
  EXPECT_TRUE(t.acquire("pool/fs", owner("beta", "t2"), 60s).is_ok());
}

TEST(LockTable, ALeaseRunsOutByItself) {
  LockTable t("beta");
  auto now = LockTable::Steady::now();
  ASSERT_TRUE(t.acquire("pool/fs", owner("alpha", "t1"), 30s, now).is_ok());
  EXPECT_FALSE(t.acquire("pool/fs", owner("beta", "t2"), 30s, now + 29s).is_ok());
  EXPECT_TRUE(t.holder("pool/fs", now + 29s).has_value());
  EXPECT_FALSE(t.holder("pool/fs", now + 31s).has_value());
  EXPECT_TRUE(t.acquire("pool/fs", owner("beta", "t2"), 30s, now + 31s).is_ok());
}

TEST(LockTable, RenewKeepsALockAliveAndLeaseZeroNeverExpires) {
  LockTable t("beta");
  auto now = LockTable::Steady::now();
  ASSERT_TRUE(t.acquire("pool/fs", owner("alpha", "t1"), 30s, now).is_ok());
  t.renew("t1", 0s, now + 20s);  // a request is running: no expiry
  EXPECT_TRUE(t.holder("pool/fs", now + 10h).has_value());
  t.renew("t1", 30s, now + 10h);
  EXPECT_FALSE(t.holder("pool/fs", now + 10h + 31s).has_value());
}

TEST(LockTable, ReleaseAllFreesASessionsLocks) {
  LockTable t("beta");
  ASSERT_TRUE(t.acquire("pool/a", owner("alpha", "t1"), 0s).is_ok());
  ASSERT_TRUE(t.acquire("pool/b", owner("alpha", "t2"), 0s).is_ok());
  ASSERT_TRUE(t.acquire("pool/c", owner("gamma", "t3"), 0s).is_ok());
  auto freed = t.release_all({"t1", "t2"});
  EXPECT_EQ(freed, (std::vector<std::string>{"pool/a", "pool/b"}));
  EXPECT_TRUE(t.holder("pool/c").has_value());
}

TEST(LockTable, HeldLockReleasesAtTheEndOfItsScope) {
  LockTable t("beta");
  {
    ASSERT_TRUE(t.acquire("pool/fs", owner("beta", "t1"), 0s).is_ok());
    HeldLock held(&t, "pool/fs", "t1");
    HeldLock moved = std::move(held);
    EXPECT_TRUE(t.holder("pool/fs").has_value());
  }
  EXPECT_FALSE(t.holder("pool/fs").has_value());
}

}  // namespace
}  // namespace zrep
