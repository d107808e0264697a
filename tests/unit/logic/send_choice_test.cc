#include "agent/logic/send_choice.h"

#include <gtest/gtest.h>

#include "tests/unit/logic/snapshot_values.h"

namespace zrep {
namespace {

using testing::snap;

TEST(SendChoice, UnsentAfterTheBaseAreOnlyUnsentZrepSnapshotsNewerThanIt) {
  std::vector<SnapshotInfo> local = {
      snap("p/fs@zrep_000000", 1, 10, false), snap("p/fs@zrep_000001", 2, 20),
      snap("p/fs@zrep_000002", 3, 30, false), snap("p/fs@manual", 4, 40, false),
      snap("p/fs@zrep_000003", 5, 50, true),  snap("p/fs@zrep_000004", 6, 60, false)};
  auto unsent = unsent_after(local, local[1]);
  ASSERT_EQ(unsent.size(), 2u);
  EXPECT_EQ(unsent[0]->name, "p/fs@zrep_000002");
  EXPECT_EQ(unsent[1]->name, "p/fs@zrep_000004");
  EXPECT_TRUE(unsent_after(local, local.back()).empty());
}

TEST(SendChoice, WaitingToSendCountsOnlyZrepSnapshotsAfterTheNewestSent) {
  EXPECT_EQ(waiting_to_send({}), 0u);
  std::vector<SnapshotInfo> local = {
      snap("p/fs@zrep_000000", 1, 10, false),  // older than a sent one: never sent (retention)
      snap("p/fs@zrep_000001", 2, 20), snap("p/fs@zrep_000002", 3, 30, false),
      snap("p/fs@manual", 4, 40, false), snap("p/fs@zrep_000003", 5, 50, false)};
  EXPECT_EQ(waiting_to_send(local), 2u);
  // The same count as unsent_after the newest sent one, the base of the next sync.
  EXPECT_EQ(unsent_after(local, local[1]).size(), waiting_to_send(local));
  local.push_back(snap("p/fs@zrep_000004", 6, 60));
  EXPECT_EQ(waiting_to_send(local), 0u);
  // Nothing sent yet (an init that failed): every zrep snapshot waits.
  EXPECT_EQ(waiting_to_send(
                {snap("p/fs@zrep_000000", 1, 10, false), snap("p/fs@zrep_000001", 2, 20, false)}),
            2u);
}

TEST(SendChoice, NewestUnsentZrepSnapshot) {
  EXPECT_EQ(newest_unsent_zrep({}), nullptr);
  std::vector<SnapshotInfo> local = {
      snap("p/fs@zrep_000000", 1, 10, false), snap("p/fs@zrep_000001", 2, 20, false),
      snap("p/fs@manual", 3, 30, false), snap("p/fs@zrep_000002", 4, 40, true)};
  const SnapshotInfo* newest = newest_unsent_zrep(local);
  ASSERT_NE(newest, nullptr);
  EXPECT_EQ(newest->name, "p/fs@zrep_000001");
  EXPECT_EQ(newest_unsent_zrep({snap("p/fs@manual", 3, 30, false)}), nullptr);
}

TEST(SendChoice, ABookmarkIsTheBaseWhenItsSnapshotIsGone) {
  std::vector<SnapshotInfo> local = {snap("p/fs@zrep_000002", 3, 30)};
  std::vector<SnapshotInfo> marks = {snap("p/fs#zrep_000001", 2, 20, false)};
  std::vector<SnapshotInfo> remote = {snap("zrep_000001", 2, 9, false)};
  ASSERT_FALSE(plan_sync(local, remote, "p/fs", "b"));
  auto plan = plan_sync_with_bookmarks(local, marks, remote, "p/fs", "b");
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->base.name, "p/fs#zrep_000001");
  EXPECT_TRUE(plan->mark_local.empty());  // a bookmark carries no zrep:sent
  EXPECT_EQ(plan->mark_remote, std::vector<uint64_t>{2});
}

TEST(SendChoice, NoBookmarkInCommonIsStillNoPlan) {
  auto plan = plan_sync_with_bookmarks({snap("p/fs@zrep_000002", 3, 30)},
                                       {snap("p/fs#zrep_000001", 2, 20, false)},
                                       {snap("zrep_000009", 9, 9)}, "p/fs", "b");
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ErrorCode::kNotFound);
}

TEST(SendChoice, APartialReceiveIsResumedOnlyWithAnUnsentZrepSnapshotAfterTheBase) {
  const SnapshotInfo base = snap("p/fs@zrep_000001", 2, 20);
  std::vector<SnapshotInfo> local = {base, snap("p/fs@zrep_000002", 3, 30, false),
                                     snap("p/fs@zrep_000003", 4, 40, true)};
  auto ok = resumable_snapshot(local, "p/fs@zrep_000002", "3", "2", base);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->name, "p/fs@zrep_000002");
  EXPECT_EQ(ok->guid, 3u);

  auto wrong_guid = resumable_snapshot(local, "p/fs@zrep_000002", "99", "2", base);
  ASSERT_FALSE(wrong_guid);
  EXPECT_EQ(wrong_guid.error().code, ErrorCode::kConflict);
  EXPECT_EQ(wrong_guid.error().message, "that snapshot or its base is gone here");
  auto wrong_base = resumable_snapshot(local, "p/fs@zrep_000002", "3", "1", base);
  ASSERT_FALSE(wrong_base);
  EXPECT_EQ(wrong_base.error().message, "that snapshot or its base is gone here");

  auto sent = resumable_snapshot(local, "p/fs@zrep_000003", "4", "2", base);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().message,
            "p/fs@zrep_000003 is not an unsent zrep snapshot after p/fs@zrep_000001");
  auto the_base = resumable_snapshot(local, "p/fs@zrep_000001", "2", "2", base);
  ASSERT_FALSE(the_base);
  EXPECT_EQ(the_base.error().code, ErrorCode::kConflict);
}

TEST(SendChoice, MadeByThisRun) {
  std::vector<SnapshotInfo> local = {snap("p/fs@zrep_000001", 2, 20, false)};
  EXPECT_TRUE(made_by_this_run(false, false, local, "p/fs@zrep_000002"));
  EXPECT_FALSE(made_by_this_run(false, false, local, "p/fs@zrep_000001"));  // sent again
  EXPECT_TRUE(made_by_this_run(false, true, local, "p/fs@zrep_000001"));    // the caller's
  EXPECT_FALSE(made_by_this_run(true, true, local, "p/fs@zrep_000002"));    // resumed
  EXPECT_FALSE(made_by_this_run(true, false, local, "p/fs@zrep_000002"));
}

}  // namespace
}  // namespace zrep
