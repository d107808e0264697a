#include "agent/logic/sync_plan.h"

#include "agent/logic/zfs_names.h"

#include <gtest/gtest.h>

#include "tests/unit/logic/snapshot_values.h"

namespace zrep {
namespace {

using testing::snap;

TEST(SyncPlan, PicksTheNewestCommonSnapshotByGuid) {
  std::vector<SnapshotInfo> local = {snap("p/fs@zrep_000000", 1, 10),
                                     snap("p/fs@zrep_000001", 2, 20),
                                     snap("p/fs@manual", 3, 30, false)};
  std::vector<SnapshotInfo> remote = {snap("zrep_000000", 1, 5), snap("zrep_000001", 2, 9)};
  auto plan = plan_sync(local, remote, "p/fs", "beta:b/fs");
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->base.name, "p/fs@zrep_000001");
  EXPECT_EQ(plan->next_seq, 2u);
  EXPECT_TRUE(plan->mark_local.empty());
  EXPECT_TRUE(plan->mark_remote.empty());
}

TEST(SyncPlan, NamesAloneAreNotTrusted) {
  // Same name, different GUID: not common.
  std::vector<SnapshotInfo> local = {snap("p/fs@zrep_000000", 1, 10),
                                     snap("p/fs@zrep_000001", 2, 20)};
  std::vector<SnapshotInfo> remote = {snap("zrep_000000", 1, 5), snap("zrep_000001", 99, 9)};
  auto plan = plan_sync(local, remote, "p/fs", "beta:b/fs");
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ErrorCode::kConflict);  // remote moved past the common base
}

TEST(SyncPlan, NoCommonSnapshot) {
  auto plan =
      plan_sync({snap("p/fs@zrep_000003", 7, 10)}, {snap("zrep_000001", 8, 5)}, "p/fs", "b");
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ErrorCode::kNotFound);
  EXPECT_NE(plan.error().message.find("init --force"), std::string::npos);
  EXPECT_FALSE(plan_sync({snap("p/fs@zrep_000003", 7, 10)}, {}, "p/fs", "b"));
}

TEST(SyncPlan, LostAcknowledgementIsMarkedNotResent) {
  std::vector<SnapshotInfo> local = {snap("p/fs@zrep_000000", 1, 10),
                                     snap("p/fs@zrep_000001", 2, 20, false)};
  std::vector<SnapshotInfo> remote = {snap("zrep_000000", 1, 5), snap("zrep_000001", 2, 9, false)};
  auto plan = plan_sync(local, remote, "p/fs", "b");
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->base.guid, 2u);
  EXPECT_EQ(plan->mark_local, std::vector<std::string>{"p/fs@zrep_000001"});
  EXPECT_EQ(plan->mark_remote, std::vector<uint64_t>{2});
}

TEST(SyncPlan, UnsentLocalSnapshotsAfterTheBaseGoInTheNextIncremental) {
  std::vector<SnapshotInfo> local = {snap("p/fs@zrep_000000", 1, 10),
                                     snap("p/fs@zrep_000001", 2, 20, false)};
  std::vector<SnapshotInfo> remote = {snap("zrep_000000", 1, 5)};
  auto plan = plan_sync(local, remote, "p/fs", "b");
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->base.guid, 1u);
  EXPECT_EQ(plan->next_seq, 2u);
}

TEST(SyncPlan, DestinationWithItsOwnNewerSnapshotIsAConflict) {
  std::vector<SnapshotInfo> local = {snap("p/fs@zrep_000000", 1, 10)};
  std::vector<SnapshotInfo> remote = {snap("zrep_000000", 1, 5), snap("standby-snap", 50, 9)};
  auto plan = plan_sync(local, remote, "p/fs", "beta:b/fs");
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ErrorCode::kConflict);
  EXPECT_NE(plan.error().message.find("standby-snap"), std::string::npos);
}

TEST(SyncPlan, TheSequenceComesFromLocalSnapshotsAndSkipsNamesTakenThere) {
  // The peer's higher numbers do not decide how high the sequence jumps.
  auto seq = next_zrep_seq({snap("p/fs@zrep_00000a", 1, 1)}, {snap("zrep_0000ff", 2, 2)});
  ASSERT_TRUE(seq);
  EXPECT_EQ(*seq, 0xbu);
  EXPECT_EQ(*next_zrep_seq({}, {}), 0u);
  // A number the peer uses already is skipped (its receive would fail on the name).
  EXPECT_EQ(*next_zrep_seq({snap("p/fs@zrep_00000a", 1, 1)},
                           {snap("zrep_00000b", 2, 2), snap("zrep_00000c", 3, 3)}),
            0xdu);
  // Bare and full names both count; names that only look like zrep's do not.
  EXPECT_EQ(*next_zrep_seq({snap("p/fs@zrep_00000A", 1, 1), snap("p/fs@zrep_1", 2, 2)}, {}), 0u);
}

TEST(SyncPlan, APeersZrepFfffffDoesNotStopTheSequence) {
  auto seq = next_zrep_seq({snap("p/fs@zrep_000004", 1, 1)}, {snap("zrep_ffffff", 9, 9)});
  ASSERT_TRUE(seq);
  EXPECT_EQ(*seq, 5u);
}

TEST(SyncPlan, AtTheTopOfTheRangeTheLowestFreeNumberIsUsed) {
  auto seq = next_zrep_seq({snap("p/fs@zrep_000000", 1, 1), snap("p/fs@zrep_ffffff", 2, 2)},
                           {snap("zrep_000001", 3, 3)});
  ASSERT_TRUE(seq);
  EXPECT_EQ(*seq, 2u);
  EXPECT_EQ(*next_zrep_seq({snap("p/fs@zrep_fffffe", 1, 1)}, {}), 0xffffffu);
}

}  // namespace
}  // namespace zrep

namespace zrep {
namespace {

TEST(SyncPlanBookmarks, ABookmarkCanBeTheBaseWhenItsSnapshotIsGone) {
  std::vector<SnapshotInfo> local;
  SnapshotInfo mark;
  mark.name = "p/fs#zrep_000001";
  mark.guid = 11;
  mark.createtxg = 10;
  SnapshotInfo newer;
  newer.name = "p/fs@zrep_000002";
  newer.guid = 12;
  newer.createtxg = 20;
  local = {mark, newer};
  SnapshotInfo there;
  there.name = "zrep_000001";
  there.guid = 11;
  there.createtxg = 10;
  there.sent = 1;
  auto plan = plan_sync(local, {there}, "p/fs", "beta:b/fs");
  ASSERT_TRUE(plan.is_ok()) << plan.error().message;
  EXPECT_EQ(plan->base.name, "p/fs#zrep_000001");
  EXPECT_EQ(plan->next_seq, 3u);
}

}  // namespace
}  // namespace zrep
