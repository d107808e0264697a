// The fixture of the failover tests (failover_test.cc, link_test.cc): a pair with some data
// on alpha, and checks of which side masters it.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "tests/integration/testbed.h"

namespace zrep::testbed {

inline std::string text(const ProcessOutput& r) {
  return "stdout: " + r.out + "\nstderr: " + r.err;
}

class Failover : public PairTest {
 protected:
  void SetUp() override {
    make_hosts(PoolSizes{});
    write_file(mnt(src_) + "/base.txt", "written before init\n");
    write_file(mnt(src_) + "/dir/data.bin", test_data(1 << 20, 3));
  }

  // The master of the pairing is on `master_fs` (src_ or dst_), at `epoch`, and the other
  // side is its read-only standby; no switch is left half-done.
  void expect_master(const std::string& master_fs, int epoch) {
    const std::string standby_fs = master_fs == src_ ? dst_ : src_;
    const std::string master_host = master_fs == src_ ? hosts_->alpha_name() : hosts_->beta_name();
    const std::string standby_host = master_fs == src_ ? hosts_->beta_name() : hosts_->alpha_name();
    EXPECT_EQ(zget(master_fs, "zrep:master"), "yes");
    EXPECT_EQ(zget(standby_fs, "zrep:master"), "-");
    EXPECT_FALSE(refuses_writes(mnt(master_fs))) << master_fs << " should take writes";
    EXPECT_TRUE(refuses_writes(mnt(standby_fs))) << standby_fs << " should be read-only";
    for (const auto& fs : {src_, dst_}) {
      EXPECT_EQ(zget(fs, "zrep:epoch"), std::to_string(epoch)) << fs;
      EXPECT_EQ(zget(fs, "zrep:switch"), "-") << fs;
      EXPECT_EQ(zget(fs, "zrep:src-fs"), master_fs) << fs;
      EXPECT_EQ(zget(fs, "zrep:src-host"), master_host) << fs;
      EXPECT_EQ(zget(fs, "zrep:dest-fs"), standby_fs) << fs;
      EXPECT_EQ(zget(fs, "zrep:dest-host"), standby_host) << fs;
    }
  }

  // A change on the master reaches the standby with one sync run on the master's host.
  void expect_sync_flows(const std::string& master_fs, const std::string& tag) {
    const std::string standby_fs = master_fs == src_ ? dst_ : src_;
    Agent& master = master_fs == src_ ? alpha() : beta();
    write_file(mnt(master_fs) + "/flow-" + tag + ".txt", "from the master " + tag + "\n");
    auto j = master.cli_json({"sync", master_fs});
    ASSERT_TRUE(j.is_array() && j.size() == 1) << j.dump();
    // Incremental from the failover's common snapshot: no full resend of the 1 MiB file.
    EXPECT_LT(j[0]["bytes"].get<uint64_t>(), 512u * 1024) << j.dump();
    EXPECT_EQ(read_file(mnt(standby_fs) + "/flow-" + tag + ".txt"),
              "from the master " + tag + "\n");
    expect_same_data();
  }

  // Exactly one zrep snapshot on each side, the same one.
  void expect_one_common_snapshot() {
    auto s = snapshots(src_);
    auto d = snapshots(dst_);
    ASSERT_EQ(s.size(), 1u) << ::testing::PrintToString(s);
    ASSERT_EQ(d.size(), 1u) << ::testing::PrintToString(d);
    EXPECT_EQ(zget(s[0], "guid"), zget(d[0], "guid"));
  }
};

}  // namespace zrep::testbed
