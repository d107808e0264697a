#include "agent/logic/lock_table.h"

#include <gtest/gtest.h>

#include <thread>

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
  EXPECT_EQ(s.code(), ErrorCode::kBusy);
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

TEST(LockTable, AWaiterGetsTheLockWhenAHolderItWaitsForReleasesIt) {
  LockTable t("beta");
  ASSERT_TRUE(t.acquire("pool/fs", owner("beta", "t1", "recover"), 0s).is_ok());
  std::thread holder([&] {
    std::this_thread::sleep_for(100ms);
    t.release("pool/fs", "t1");
  });
  // Waits (up to a minute) for the recovery's lock; takes it once released.
  Status got = t.acquire_waiting("pool/fs", owner("beta", "t2"), 0s, 60s,
                                 [](const LockInfo& h) { return h.owner.operation == "recover"; });
  holder.join();
  EXPECT_TRUE(got.is_ok()) << got.message();
  ASSERT_TRUE(t.holder("pool/fs").has_value());
  EXPECT_EQ(t.holder("pool/fs")->owner.token, "t2");
}

TEST(LockTable, AWaiterIsRefusedAtOnceByAHolderItDoesNotWaitFor) {
  LockTable t("beta");
  ASSERT_TRUE(t.acquire("pool/fs", owner("alpha", "t1", "sync"), 0s).is_ok());
  const auto start = std::chrono::steady_clock::now();
  Status got = t.acquire_waiting("pool/fs", owner("beta", "t2"), 0s, 60s,
                                 [](const LockInfo& h) { return h.owner.operation == "recover"; });
  EXPECT_EQ(got.code(), ErrorCode::kBusy);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);  // not the minute it may wait
  EXPECT_EQ(t.holder("pool/fs")->owner.token, "t1");
}

TEST(LockTable, AWaiterGivesUpWhenItsWaitRunsOut) {
  LockTable t("beta");
  ASSERT_TRUE(t.acquire("pool/fs", owner("beta", "t1", "recover"), 0s).is_ok());
  Status got = t.acquire_waiting("pool/fs", owner("beta", "t2"), 0s, 50ms,
                                 [](const LockInfo&) { return true; });
  EXPECT_EQ(got.code(), ErrorCode::kBusy);
  EXPECT_EQ(t.holder("pool/fs")->owner.token, "t1");
}

TEST(LockTable, AWaiterTakesTheLockWhenTheHoldersLeaseRunsOut) {
  LockTable t("beta");
  ASSERT_TRUE(t.acquire("pool/fs", owner("alpha", "t1", "recover"), 1s).is_ok());
  Status got = t.acquire_waiting("pool/fs", owner("beta", "t2"), 0s, 60s,
                                 [](const LockInfo&) { return true; });
  EXPECT_TRUE(got.is_ok()) << got.message();
  EXPECT_EQ(t.holder("pool/fs")->owner.token, "t2");
}

}  // namespace
}  // namespace zrep
