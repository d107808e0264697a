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

class Resumable : public PairTest {
 protected:
  static constexpr size_t kBig = size_t{48} << 20;
  // 16 MiB arrived before the cut, less what was still in pipes: a resume sends at most this.
  static constexpr uint64_t kRestAtMost = uint64_t{40} << 20;

  void SetUp() override {
    if (!openzfs()) {
      GTEST_SKIP() << "zfs-fuse has no resumable receive (recv -s, send -t): an interrupted "
                      "transfer starts over there. This test runs in the OpenZFS lane.";
    }
    make_hosts(PoolSizes{});
    write_file(mnt(src_) + "/small.txt", "before\n");
  }

  // A 48 MiB change whose transfer stops when beta's agent dies at 16 MiB received: enough
  // to prove a resume sends only the rest, small enough for an emulated guest (the lane).
  void interrupted_sync() {
    write_file(mnt(src_) + "/big.bin", test_data(kBig, 9));
    beta().stop();
    beta().set_env({"ZREP_FAULT_AT=received-16m"});
    beta().start();
    auto r = alpha().cli({"sync", src_}, 900);
    EXPECT_NE(r.exit_code, 0) << r.out;
    ASSERT_TRUE(beta().wait_exit(60)) << "beta did not stop at 16 MiB: " << r.out << r.err;
    // The killed agent's `zfs recv` drains its pipe and saves the partial state by itself:
    // until it has, the resume token still changes.
    ASSERT_TRUE(wait_receives_gone(dst_, std::chrono::seconds(120)));
    beta().set_env({});
    beta().start();
    ASSERT_NE(zget(dst_, "receive_resume_token"), "-") << "no partial receive to resume";
  }
};

TEST_F(Resumable, AnInterruptedTransferResumesWhereItStopped) {
  init();
  interrupted_sync();
  auto j = alpha().cli_json({"sync", src_});
  ASSERT_EQ(j.size(), 1u) << j.dump();
  EXPECT_TRUE(j[0]["resumed"].get<bool>()) << j.dump();
  // The agent's own count of what it sent this time: the rest, not the whole 48 MiB again.
  EXPECT_LT(j[0]["bytes"].get<uint64_t>(), kRestAtMost) << j.dump();
  EXPECT_EQ(zget(dst_, "receive_resume_token"), "-");
  expect_same_data();
  expect_newest_snapshot_same();
}

TEST_F(Resumable, AnInterruptedInitResumes) {
  write_file(mnt(src_) + "/big.bin", test_data(kBig, 8));
  beta().stop();
  beta().set_env({"ZREP_FAULT_AT=received-16m"});
  beta().start();
  auto r = alpha().cli({"init", src_, beta_name(), dst_}, 900);
  EXPECT_NE(r.exit_code, 0) << r.out;
  ASSERT_TRUE(beta().wait_exit(60)) << "beta did not stop at 16 MiB: " << r.out << r.err;
  ASSERT_TRUE(wait_receives_gone(dst_, std::chrono::seconds(120)));
  beta().set_env({});
  beta().start();
  ASSERT_NE(zget(dst_, "receive_resume_token"), "-") << "no partial receive to resume";
  auto j = alpha().cli_json({"init", src_, beta_name(), dst_});
  EXPECT_TRUE(j.value("resumed", false)) << j.dump();
  EXPECT_LT(j["bytes"].get<uint64_t>(), kRestAtMost) << j.dump();
  expect_same_data();
  expect_newest_snapshot_same();
  EXPECT_EQ(zget(dst_, "zrep:src-host"), hosts_->alpha_name());
}

TEST_F(Resumable, AStaleTokenIsDiscardedAndTheTransferStartsOver) {
  init();
  interrupted_sync();
  // The snapshot the partial receive belongs to is gone from the source.
  const std::string partial = snapshots(src_).back();
  ASSERT_EQ(run({"zfs", "destroy", partial}).exit_code, 0);
  auto j = alpha().cli_json({"sync", src_});
  ASSERT_EQ(j.size(), 1u) << j.dump();
  EXPECT_TRUE(j[0]["discarded_partial"].get<bool>()) << j.dump();
  EXPECT_FALSE(j[0]["resumed"].get<bool>()) << j.dump();
  EXPECT_EQ(zget(dst_, "receive_resume_token"), "-");
  expect_same_data();
  expect_newest_snapshot_same();
}

class Bookmarks : public PairTest {
 protected:
  void SetUp() override {
    if (!openzfs()) {
      GTEST_SKIP() << "zfs-fuse has no bookmarks; without the base snapshot a full resend is "
                      "needed there. This test runs in the OpenZFS lane.";
    }
    make_hosts(PoolSizes{});
    write_file(mnt(src_) + "/big.bin", test_data(4u << 20, 5));
  }
};

TEST_F(Bookmarks, AnIncrementalStartsFromTheBookmarkWhenTheBaseSnapshotIsGone) {
  init();
  write_file(mnt(src_) + "/two.txt", "2\n");
  ASSERT_EQ(alpha().cli({"sync", src_}).exit_code, 0);
  const std::string base = snapshots(src_).back();
  const std::string mark = src_ + "#" + base.substr(base.find('@') + 1);
  ASSERT_EQ(run({"zfs", "list", "-H", "-t", "bookmark", mark}).exit_code, 0) << "no bookmark";
  // Someone destroys the base on the source (releasing zrep's hold first).
  ASSERT_EQ(run({"zfs", "release", "zrep:base", base}).exit_code, 0);
  ASSERT_EQ(run({"zfs", "destroy", base}).exit_code, 0);
  write_file(mnt(src_) + "/three.txt", "3\n");
  auto j = alpha().cli_json({"sync", src_});
  ASSERT_EQ(j.size(), 1u) << j.dump();
  EXPECT_EQ(j[0]["base"], mark) << j.dump();
  EXPECT_LT(j[0]["bytes"].get<uint64_t>(), 1u << 20) << "a full resend: " << j.dump();
  expect_same_data();
  expect_newest_snapshot_same();
}

class RawSend : public PairTest {
 protected:
  void SetUp() override {
    if (!openzfs()) {
      GTEST_SKIP() << "zfs-fuse has no native encryption, so there is nothing to send raw. "
                      "This test runs in the OpenZFS lane.";
    }
    make_hosts(PoolSizes{});
    key_ = hosts_->work() + "/enc.key";
    write_file(key_, "correct horse battery staple\n");
    enc_ = hosts_->src_pool() + "/enc";
    ASSERT_EQ(run({"zfs", "create", "-o", "encryption=on", "-o", "keyformat=passphrase", "-o",
                   "keylocation=file://" + key_, enc_})
                  .exit_code,
              0);
    write_file(mnt(enc_) + "/secret.txt", "only readable with the key\n");
    write_file(mnt(enc_) + "/data.bin", test_data(1u << 20, 4));
  }
  std::string key_, enc_;
};

TEST_F(RawSend, TheStandbyHoldsTheDataEncryptedWithoutTheKey) {
  const std::string dest = hosts_->backup_root() + "/enc";
  auto j = alpha().cli_json({"init", enc_, beta_name(), dest});
  ASSERT_FALSE(j.contains("error")) << j.dump();
  write_file(mnt(enc_) + "/later.txt", "sent raw too\n");
  auto s = alpha().cli_json({"sync", enc_});
  ASSERT_EQ(s.size(), 1u) << s.dump();
  EXPECT_NE(zget(dest, "encryption"), "off");
  EXPECT_EQ(zget(dest, "keystatus"), "unavailable");  // the standby never had the key
  EXPECT_EQ(zget(snapshots(enc_).back(), "guid"), zget(snapshots(dest).back(), "guid"));
  // With the key the data is there: loaded by hand (what an operator does), ...
  ASSERT_EQ(run({"zfs", "load-key", "-L", "file://" + key_, dest}).exit_code, 0);
  ASSERT_EQ(run({"zfs", "mount", dest}).exit_code, 0);
  EXPECT_EQ(tree_digest(mnt(dest)), tree_digest(mnt(enc_)));
  ASSERT_EQ(run({"zfs", "unmount", dest}).exit_code, 0);
  ASSERT_EQ(run({"zfs", "unload-key", dest}).exit_code, 0);
  EXPECT_EQ(zget(dest, "keystatus"), "unavailable");

  // ... or by the agent when a failover makes the standby the master and its keylocation
  // names a key file there.
  ASSERT_EQ(run({"zfs", "set", "keylocation=file://" + key_, dest}).exit_code, 0);
  write_file(mnt(enc_) + "/last.txt", "written just before the failover\n");
  auto f = alpha().cli({"failover", enc_});
  ASSERT_EQ(f.exit_code, 0) << f.out << f.err;
  EXPECT_EQ(zget(dest, "zrep:master"), "yes");
  EXPECT_EQ(zget(dest, "keystatus"), "available");
  EXPECT_EQ(zget(dest, "mounted"), "yes");
  EXPECT_EQ(read_file(mnt(dest) + "/last.txt"), "written just before the failover\n");
  EXPECT_EQ(read_file(mnt(dest) + "/secret.txt"), "only readable with the key\n");
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
