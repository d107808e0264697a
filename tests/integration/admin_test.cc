// Administration of an existing pairing: changedest. Real agents, real zfs-fuse pools.
#include <gtest/gtest.h>

#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

class Admin : public PairTest {};

TEST_F(Admin, ChangedestRepointsToACopyWithoutAFullResend) {
  write_file(mnt(src_) + "/base.bin", test_data(2 << 20, 21));
  init();
  // A second copy on beta that shares zrep_000000 (e.g. restored from a backup).
  const std::string copy = hosts_->backup_root() + "/copy";
  ProcessOutput sent = run({"bash", "-c", "zfs send " + dst_ + "@zrep_000000 | zfs recv " + copy});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  // A peer never adopts a dataset zrep does not manage: the operator on beta says it may.
  auto refused = alpha().cli({"changedest", src_, beta_name(), copy});
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_EQ(zget(copy, "zrep:src-host"), "-");
  must({"zfs", "set", "zrep:src-host=" + hosts_->alpha_name(), copy});
  auto j = alpha().cli_json({"changedest", src_, beta_name(), copy});
  EXPECT_EQ(j["common_snapshot"], src_ + "@zrep_000000") << j.dump();
  EXPECT_EQ(zget(src_, "zrep:dest-fs"), copy);
  EXPECT_EQ(zget(copy, "zrep:src-host"), hosts_->alpha_name());
  write_file(mnt(src_) + "/after-changedest.txt", "goes to the copy\n");
  auto s = alpha().cli_json({"sync", src_});
  EXPECT_EQ(s[0]["dest_fs"], copy) << s.dump();
  EXPECT_LT(s[0]["bytes"].get<uint64_t>(), 1u << 20) << "incremental, not a full resend";
  EXPECT_EQ(tree_digest(mnt(src_)), tree_digest(mnt(copy)));
  EXPECT_EQ(zget(snapshots(src_).back(), "guid"), zget(snapshots(copy).back(), "guid"));

  // A destination with nothing in common is refused, and nothing changes.
  must({"zfs", "create", hosts_->backup_root() + "/empty"});
  auto bad = alpha().cli({"changedest", src_, beta_name(), hosts_->backup_root() + "/empty"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("no common snapshot"), std::string::npos) << bad.err;
  EXPECT_EQ(zget(src_, "zrep:dest-fs"), copy);
  EXPECT_EQ(zget(hosts_->backup_root() + "/empty", "zrep:src-host"), "-");
}

}  // namespace
}  // namespace zrep::testbed
