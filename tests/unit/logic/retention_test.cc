#include "agent/logic/retention.h"

#include <gtest/gtest.h>

namespace zrep {
namespace {

SnapshotInfo snap(const std::string& part, uint64_t guid, bool sent = true) {
  SnapshotInfo s;
  s.name = "p/fs@" + part;
  s.guid = guid;
  s.createtxg = guid;
  if (sent) s.sent = 1;
  return s;
}

std::vector<SnapshotInfo> series(int n) {
  std::vector<SnapshotInfo> v;
  for (int i = 0; i < n; ++i) {
    char part[16];
    std::snprintf(part, sizeof part, "zrep_%06x", i);
    v.push_back(snap(part, static_cast<uint64_t>(i + 1)));
  }
  return v;
}

TEST(Retention, KeepsTheNewestSavecount) {
  RetentionInput in{series(8), 5, 8, true};
  auto d = plan_retention(in);
  EXPECT_EQ(d,
            (std::vector<std::string>{"p/fs@zrep_000000", "p/fs@zrep_000001", "p/fs@zrep_000002"}));
}

TEST(Retention, NeverTheNewestCommonSnapshot) {
  // The base is old (later snapshots unsent on the master): it stays, and so do the unsent.
  auto s = series(8);
  for (int i = 3; i < 8; ++i) s[i].sent.reset();
  RetentionInput in{s, 2, 3, true};
  auto d = plan_retention(in);
  EXPECT_EQ(d, (std::vector<std::string>{"p/fs@zrep_000000", "p/fs@zrep_000001"}));
}

TEST(Retention, DestinationDeletesUnsentMarksToo) {
  auto s = series(4);
  s[0].sent.reset();
  RetentionInput in{s, 2, 4, false};
  EXPECT_EQ(plan_retention(in), (std::vector<std::string>{"p/fs@zrep_000000", "p/fs@zrep_000001"}));
}

TEST(Retention, NeverTouchesOtherSnapshots) {
  std::vector<SnapshotInfo> s = {snap("before-upgrade", 100), snap("zrep_000000", 1),
                                 snap("daily", 101), snap("zrep_000001", 2),
                                 snap("zrep_000002", 3)};
  RetentionInput in{s, 1, 3, true};
  EXPECT_EQ(plan_retention(in), (std::vector<std::string>{"p/fs@zrep_000000", "p/fs@zrep_000001"}));
}

TEST(Retention, UnknownBaseDestroysNothing) {
  EXPECT_TRUE(plan_retention({series(9), 1, 0, true}).empty());
  EXPECT_TRUE(plan_retention({series(9), 1, 999, true}).empty());
  EXPECT_TRUE(plan_retention({series(3), 5, 3, true}).empty());
}

TEST(Retention, SavecountParsing) {
  EXPECT_EQ(*parse_savecount(""), 5u);
  EXPECT_EQ(*parse_savecount("12"), 12u);
  EXPECT_FALSE(parse_savecount("0"));
  EXPECT_FALSE(parse_savecount("-1"));
  EXPECT_FALSE(parse_savecount("5x"));
}

}  // namespace
}  // namespace zrep

namespace zrep {
namespace {

TEST(Retention, UnsentSnapshotsOlderThanTheBaseAreObsolete) {
  // zrep_000001 failed to send; a later sync went from 000000 straight to 000002.
  auto s = series(6);
  s[1].sent.reset();
  s[5].sent.reset();  // newer than the base: may still go
  RetentionInput in{s, 1, 5, true};
  EXPECT_EQ(plan_retention(in), (std::vector<std::string>{"p/fs@zrep_000000", "p/fs@zrep_000001",
                                                          "p/fs@zrep_000002", "p/fs@zrep_000003"}));
}

}  // namespace
}  // namespace zrep
