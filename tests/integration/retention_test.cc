// Retention by age (agent/logic/retention_grid.h) on both sides of a pairing, each by its own
// grid, on top of savecount. The agents' clocks are moved forward (ZREP_CLOCK_OFFSET, a hook of
// the test binary: agent/fault/fault.h) so snapshots made seconds apart are days old.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

class Retention : public PairTest {
 protected:
  // The zrep snapshot parts of fs, oldest first.
  static std::vector<std::string> zrep_parts(const std::string& fs) {
    std::vector<std::string> out;
    for (const auto& s : snapshots(fs)) {
      const std::string part = s.substr(s.find('@') + 1);
      if (part.starts_with("zrep_")) out.push_back(part);
    }
    return out;
  }
  void sync_with_change(int n) {
    // A new file each time (zfs-fuse may serve a rewritten file of the same size from its
    // cache on the replica's mount).
    write_file(mnt(src_) + "/file-" + std::to_string(n) + ".txt",
               "change " + std::to_string(n) + "\n");
    auto r = alpha().cli({"sync", src_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Both agents restarted with their clocks `offset` seconds ahead.
  void clocks_ahead(int64_t offset) {
    for (Agent* a : {&alpha(), &beta()}) {
      a->stop();
      a->set_env({"ZREP_CLOCK_OFFSET=" + std::to_string(offset)});
      a->start();
    }
  }
  // The RETENTION reason list -s gives for each zrep snapshot of src_ on alpha.
  std::map<std::string, std::string> reasons() {
    std::map<std::string, std::string> out;
    auto j = alpha().cli_json({"list", "-s", src_});
    for (const auto& row : j) {
      const std::string name = row["snapshot"];
      out[name.substr(name.find('@') + 1)] = row["retention"];
    }
    return out;
  }
};

std::string part(int seq) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "zrep_%06x", seq);
  return buf;
}

std::vector<std::string> parts(std::initializer_list<int> seqs) {
  std::vector<std::string> out;
  for (int s : seqs) out.push_back(part(s));
  return out;
}

TEST_F(Retention, EachSideKeepsItsGridOnTopOfSavecountAndListSaysWhy) {
  AgentSpec a = hosts_->alpha_spec, b = hosts_->beta_spec;
  a.extra_config = "retention = \"1x1h(keep=all) | 3x1d\"\n" + a.extra_config;
  b.extra_config = "retention = \"1x1h(keep=all) | 3x1d(keep=3)\"\n" + b.extra_config;
  hosts_->restart_alpha(a);
  hosts_->restart_beta(b);
  write_file(mnt(src_) + "/file.txt", "first\n");
  init();
  ASSERT_EQ(run({"zfs", "set", "zrep:savecount=2", src_}).exit_code, 0);
  ASSERT_EQ(run({"zfs", "set", "zrep:savecount=2", dst_}).exit_code, 0);
  for (int i = 1; i <= 5; ++i) ASSERT_NO_FATAL_FAILURE(sync_with_change(i));
  // Now: every snapshot is in the first hour, which keeps them all, on both sides.
  EXPECT_EQ(zrep_parts(src_), parts({0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(zrep_parts(dst_), parts({0, 1, 2, 3, 4, 5}));
  auto why = reasons();
  EXPECT_EQ(why[part(0)], "grid 1x1h(keep=all): interval 1 of 1");
  EXPECT_EQ(why[part(4)], "savecount: one of the newest 2");
  EXPECT_EQ(why[part(5)], "base: the newest common snapshot");

  // Two days later they all fall in the grid's second day: alpha keeps that day's oldest,
  // beta its three oldest; savecount keeps the newest two on each side.
  ASSERT_NO_FATAL_FAILURE(clocks_ahead(2 * 86400));
  ASSERT_NO_FATAL_FAILURE(sync_with_change(6));
  EXPECT_EQ(zrep_parts(src_), parts({0, 5, 6}));
  EXPECT_EQ(zrep_parts(dst_), parts({0, 1, 2, 5, 6}));
  why = reasons();
  EXPECT_EQ(why[part(0)], "grid 3x1d: interval 2 of 3");
  EXPECT_EQ(why[part(5)], "savecount: one of the newest 2");
  expect_same_data();
  expect_newest_snapshot_same();

  // Ten days later nothing is inside either grid: savecount alone decides, and the next sync
  // is still incremental from the newest common snapshot.
  ASSERT_NO_FATAL_FAILURE(clocks_ahead(10 * 86400));
  ASSERT_NO_FATAL_FAILURE(sync_with_change(7));
  EXPECT_EQ(zrep_parts(src_), parts({6, 7}));
  EXPECT_EQ(zrep_parts(dst_), parts({6, 7}));
  ASSERT_NO_FATAL_FAILURE(sync_with_change(8));
  EXPECT_EQ(zrep_parts(dst_), parts({7, 8}));
  expect_same_data();
  expect_newest_snapshot_same();
}

// A grid set as a property (no `retention` in the config) is applied too; one that does not
// parse fails retention with a message naming the property, and destroys nothing.
TEST_F(Retention, TheZrepRetentionPropertyIsAppliedAndGarbageDestroysNothing) {
  write_file(mnt(src_) + "/file.txt", "first\n");
  init();
  ASSERT_EQ(run({"zfs", "set", "zrep:savecount=1", src_}).exit_code, 0);
  ASSERT_EQ(run({"zfs", "set", "zrep:retention=2x1h(keep=all)", src_}).exit_code, 0);
  for (int i = 1; i <= 3; ++i) ASSERT_NO_FATAL_FAILURE(sync_with_change(i));
  EXPECT_EQ(zrep_parts(src_), parts({0, 1, 2, 3}));
  ASSERT_EQ(run({"zfs", "set", "zrep:retention=every day", src_}).exit_code, 0);
  auto r = alpha().cli({"expire", src_});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("zrep:retention"), std::string::npos) << r.err;
  EXPECT_EQ(zrep_parts(src_), parts({0, 1, 2, 3}));
  ASSERT_EQ(run({"zfs", "inherit", "zrep:retention", src_}).exit_code, 0);
  r = alpha().cli({"expire", src_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(zrep_parts(src_), parts({3}));
}

}  // namespace
}  // namespace zrep::testbed
