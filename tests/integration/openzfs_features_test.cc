// What the agent does only where the ZFS has it (OpenZFS 2.x; the OpenZFS lane runs these,
// tests/openzfs/). On zfs-fuse each test is skipped with the reason printed.
#include <gtest/gtest.h>

#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

bool held_by_zrep(const std::string& snapshot) {
  auto out = run({"zfs", "holds", "-H", snapshot});
  return out.exit_code == 0 && out.out.find("\tzrep:base\t") != std::string::npos;
}

class Holds : public PairTest {
 protected:
  void SetUp() override {
    if (!openzfs()) {
      GTEST_SKIP() << "zfs-fuse has no working 'zfs hold' (it needs pyzfs); the agent keeps no "
                      "holds there. This test runs in the OpenZFS lane.";
    }
    make_hosts(PoolSizes{});
    write_file(mnt(src_) + "/a.txt", "first\n");
  }
};

TEST_F(Holds, TheIncrementalBaseIsHeldOnBothSidesAndMovesWithEachSync) {
  init();
  const std::string base0 = snapshots(src_).back();
  const std::string dbase0 = snapshots(dst_).back();
  EXPECT_TRUE(held_by_zrep(base0));
  EXPECT_TRUE(held_by_zrep(dbase0));
  // Nobody can destroy the base and force a full resend.
  EXPECT_NE(run({"zfs", "destroy", base0}).exit_code, 0);
  EXPECT_NE(run({"zfs", "destroy", dbase0}).exit_code, 0);
  EXPECT_TRUE(dataset_exists(base0));
  EXPECT_TRUE(dataset_exists(dbase0));

  write_file(mnt(src_) + "/b.txt", "second\n");
  auto j = alpha().cli_json({"sync", src_});
  ASSERT_EQ(j.size(), 1u) << j.dump();
  const std::string base1 = snapshots(src_).back();
  const std::string dbase1 = snapshots(dst_).back();
  EXPECT_EQ(zget(base1, "guid"), zget(dbase1, "guid"));
  EXPECT_TRUE(held_by_zrep(base1));
  EXPECT_TRUE(held_by_zrep(dbase1));
  // The previous base is released, so retention (or an admin) may destroy it now.
  EXPECT_FALSE(held_by_zrep(base0));
  EXPECT_FALSE(held_by_zrep(dbase0));
  EXPECT_EQ(run({"zfs", "destroy", base0}).exit_code, 0);

  // A failover moves the holds to the switch's base on both sides, and clear releases them.
  auto r = alpha().cli({"failover", src_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string fbase = snapshots(src_).back();
  EXPECT_TRUE(held_by_zrep(fbase));
  EXPECT_TRUE(held_by_zrep(snapshots(dst_).back()));
  r = beta().cli({"clear", dst_, hosts_->alpha_name(), "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(held_by_zrep(fbase));
  EXPECT_FALSE(held_by_zrep(snapshots(dst_).back()));
}

class CompressedSend : public PairTest {
 protected:
  void SetUp() override {
    if (!openzfs()) {
      GTEST_SKIP() << "zfs-fuse has no 'zfs send -c'; streams carry uncompressed blocks there "
                      "and the agent compresses them with lz4. This test runs in the OpenZFS "
                      "lane.";
    }
    make_hosts(PoolSizes{});
  }
};

TEST_F(CompressedSend, BlocksTravelAsCompressedOnDisk) {
  ASSERT_EQ(run({"zfs", "set", "compression=lz4", src_}).exit_code, 0);
  std::string text;
  while (text.size() < (8u << 20))
    text += "zrep-agent compressible line of text, again and again\n";
  write_file(mnt(src_) + "/text.txt", text);
  ASSERT_EQ(run({"zfs", "snapshot", src_ + "@settle"}).exit_code, 0);  // flush to disk
  ASSERT_EQ(run({"zfs", "destroy", src_ + "@settle"}).exit_code, 0);
  auto j = alpha().cli_json({"init", src_, beta_name(), dst_});
  // With send -c the stream holds the lz4 blocks as stored: far less than the 8 MiB of text.
  EXPECT_LT(j["bytes"].get<uint64_t>(), 2u << 20) << j.dump();
  expect_same_data();
}

}  // namespace
}  // namespace zrep::testbed
