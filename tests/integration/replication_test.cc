// Two real agents replicating real zfs-fuse filesystems over mutual TLS on loopback.
// Every assertion is on data that arrived: file digests, snapshot GUIDs, properties.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>

#include <filesystem>

#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

class Replication : public PairTest {
 protected:
  void SetUp() override {
    make_hosts(PoolSizes{});
    write_file(mnt(src_) + "/small.txt", "hello from alpha\n");
    write_file(mnt(src_) + "/dir/big.bin", test_data(3 << 20, 1));
    write_file(mnt(src_) + "/dir/sub/notes.txt", test_data(100000, 2));
  }
};

TEST_F(Replication, InitCopiesTheFilesystemAndRecordsThePairing) {
  init();
  expect_same_data();
  expect_newest_snapshot_same();
  EXPECT_EQ(snapshots(src_).back(), src_ + "@zrep_000000");
  // zfs-fuse reports readonly as "off (temporary)" whatever is set, so test the behaviour.
  EXPECT_TRUE(refuses_writes(mnt(dst_)));
  EXPECT_FALSE(refuses_writes(mnt(src_)));
  EXPECT_EQ(zget(src_, "zrep:master"), "yes");
  EXPECT_EQ(zget(dst_, "zrep:master"), "-");
  for (const auto& ds : {src_, dst_}) {
    EXPECT_EQ(zget(ds, "zrep:src-fs"), src_);
    EXPECT_EQ(zget(ds, "zrep:src-host"), hosts_->alpha_name());
    EXPECT_EQ(zget(ds, "zrep:dest-fs"), dst_);
    EXPECT_EQ(zget(ds, "zrep:dest-host"), hosts_->beta_name());
    EXPECT_EQ(zget(ds, "zrep:savecount"), "5");
    EXPECT_EQ(zget(ds, "zrep:epoch"), "1");
  }
}

TEST_F(Replication, SyncSendsChangesIncrementally) {
  init();
  write_file(mnt(src_) + "/small.txt", "changed\n");
  write_file(mnt(src_) + "/new/file.bin", test_data(1 << 20, 7));
  std::filesystem::remove(mnt(src_) + "/dir/sub/notes.txt");
  auto j = alpha().cli_json({"sync", src_});
  ASSERT_TRUE(j.is_array() && j.size() == 1) << j.dump();
  EXPECT_EQ(j[0]["base"], src_ + "@zrep_000000");
  EXPECT_EQ(j[0]["snapshot"], src_ + "@zrep_000001");
  // An incremental of ~1 MiB of changes, not a resend of the 3 MiB base.
  EXPECT_LT(j[0]["bytes"].get<uint64_t>(), 2u << 20);
  expect_same_data();
  expect_newest_snapshot_same();
  EXPECT_FALSE(std::filesystem::exists(mnt(dst_) + "/dir/sub/notes.txt"));
  EXPECT_EQ(snapshots(dst_).size(), 2u);
}

TEST_F(Replication, NoChangeSyncIsHarmless) {
  init();
  for (int i = 0; i < 2; ++i) {
    auto r = alpha().cli({"sync", src_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  expect_same_data();
  expect_newest_snapshot_same();
  EXPECT_TRUE(refuses_writes(mnt(dst_)));
}

TEST_F(Replication, SyncAllSyncsEveryMasteredFilesystem) {
  std::string src2 = hosts_->src_pool() + "/other";
  std::string dst2 = hosts_->backup_root() + "/other";
  must({"zfs", "create", src2});
  write_file(mnt(src2) + "/a.txt", "second filesystem\n");
  init();
  ASSERT_EQ(alpha().cli({"init", src2, beta_name(), dst2}).exit_code, 0);
  write_file(mnt(src_) + "/after.txt", "one");
  write_file(mnt(src2) + "/after.txt", "two");
  auto j = alpha().cli_json({"sync", "all"});
  ASSERT_EQ(j.size(), 2u) << j.dump();
  expect_same_data();
  EXPECT_EQ(tree_digest(mnt(src2)), tree_digest(mnt(dst2)));
  EXPECT_EQ(zget(snapshots(src2).back(), "guid"), zget(snapshots(dst2).back(), "guid"));
}

TEST_F(Replication, LostAcknowledgementIsRecoveredWithoutResending) {
  init();
  // A snapshot that reached the destination but whose acknowledgement never came back: it is
  // on both sides, marked sent on neither.
  write_file(mnt(src_) + "/lost-ack.txt", "arrived, unacknowledged\n");
  must({"zfs", "snapshot", src_ + "@zrep_000001"});
  ProcessOutput sent =
      run({"bash", "-c",
           "zfs send -i " + src_ + "@zrep_000000 " + src_ + "@zrep_000001 | zfs recv " + dst_});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  ASSERT_EQ(zget(dst_ + "@zrep_000001", "zrep:sent"), "-");

  auto j = alpha().cli_json({"sync", src_});
  EXPECT_EQ(j[0]["base"], src_ + "@zrep_000001") << j.dump();
  EXPECT_EQ(j[0]["marked_after_lost_ack"].get<int>(), 2);
  EXPECT_NE(zget(src_ + "@zrep_000001", "zrep:sent"), "-");
  EXPECT_NE(zget(dst_ + "@zrep_000001", "zrep:sent"), "-");
  expect_same_data();
  expect_newest_snapshot_same();
}

TEST_F(Replication, ModifiedDestinationIsRefusedAndNothingChanges) {
  init();
  must({"zfs", "set", "readonly=off", dst_});
  write_file(mnt(dst_) + "/local-edit.txt", "written on the standby\n");
  write_file(mnt(src_) + "/small.txt", "new on alpha\n");
  // Larger than the socket buffers: the refusal must still come back as zfs's own reason.
  write_file(mnt(src_) + "/more.bin", test_data(8 << 20, 11));
  auto before_src = snapshots(src_);
  auto before_dst = snapshots(dst_);
  auto r = alpha().cli({"sync", src_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("modified"), std::string::npos) << r.err;
  EXPECT_EQ(snapshots(src_), before_src);
  EXPECT_EQ(snapshots(dst_), before_dst);
  EXPECT_TRUE(std::filesystem::exists(mnt(dst_) + "/local-edit.txt"));
}

TEST_F(Replication, InitRefusesAnExistingDestination) {
  must({"zfs", "create", dst_});
  auto r = alpha().cli({"init", src_, beta_name(), dst_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_TRUE(snapshots(src_).empty());
  EXPECT_EQ(zget(src_, "zrep:master"), "-");
}

TEST_F(Replication, PeerMayNotTouchDatasetsOutsideItsAllowance) {
  std::string outside = hosts_->dst_pool() + "/elsewhere";
  auto r = alpha().cli({"init", src_, beta_name(), outside});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("may not access"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(hosts_->backup_root()), std::string::npos) << r.err;
  EXPECT_FALSE(dataset_exists(outside));
}

TEST_F(Replication, PeerWithCertificateFromAnotherCaIsRefused) {
  std::string other = hosts_->work() + "/other-ca";
  must({ZREP_AGENT_BINARY, "pki", "init", other});
  must({ZREP_AGENT_BINARY, "pki", "issue", other, beta_name()});
  AgentSpec spec = hosts_->beta_spec;
  spec.ca = other + "/ca.crt";
  spec.cert = other + "/" + beta_name() + ".crt";
  spec.key = other + "/" + beta_name() + ".key";
  hosts_->restart_beta(spec);
  auto r = alpha().cli({"init", src_, beta_name(), dst_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("TLS"), std::string::npos) << r.err;
  EXPECT_FALSE(dataset_exists(dst_));
}

TEST_F(Replication, BadInputGetsClearErrors) {
  auto bad_name = alpha().cli({"init", "-R", beta_name(), dst_});
  EXPECT_NE(bad_name.exit_code, 0);
  auto hostile = alpha().cli({"init", src_ + "@x@y", beta_name(), dst_});
  EXPECT_EQ(hostile.exit_code, 1);
  EXPECT_NE(hostile.err.find("invalid"), std::string::npos) << hostile.err;
  auto unknown = alpha().cli({"init", src_, "gamma", dst_});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("unknown peer 'gamma'"), std::string::npos) << unknown.err;
  auto missing = alpha().cli({"init", hosts_->src_pool() + "/nosuch", beta_name(), dst_});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
  auto not_master = alpha().cli({"sync", src_});
  EXPECT_EQ(not_master.exit_code, 1);
  EXPECT_NE(not_master.err.find("not a zrep master"), std::string::npos) << not_master.err;
  EXPECT_FALSE(dataset_exists(dst_));
}

TEST_F(Replication, ListAndStatusOnBothHosts) {
  init();
  auto la = alpha().cli_json({"list"});
  ASSERT_EQ(la.size(), 1u) << la.dump();
  EXPECT_EQ(la[0]["fs"], src_);
  EXPECT_EQ(la[0]["role"], "master");
  EXPECT_TRUE(beta().cli_json({"list"}).empty()) << "beta masters nothing";
  EXPECT_TRUE(alpha().cli_json({"list", "-L"}).empty()) << "alpha holds no replica";
  auto snaps = alpha().cli_json({"list", "-s", src_});
  ASSERT_EQ(snaps.size(), 1u) << snaps.dump();
  EXPECT_EQ(snaps[0]["snapshot"], src_ + "@zrep_000000");
  EXPECT_EQ(snaps[0]["guid"], zget(src_ + "@zrep_000000", "guid"));
  EXPECT_FALSE(snaps[0]["sent"].is_null());
  auto lb = beta().cli_json({"list", "-L"});
  ASSERT_EQ(lb.size(), 1u) << lb.dump();
  EXPECT_EQ(lb[0]["fs"], dst_);
  EXPECT_EQ(lb[0]["role"], "destination");
  auto sa = alpha().cli_json({"status", src_});
  EXPECT_EQ(sa[0]["last_synced_snapshot"], src_ + "@zrep_000000");
  EXPECT_EQ(sa[0]["unsent_snapshots"], 0);
  EXPECT_EQ(sa[0]["peer"], beta_name());
  auto sb = beta().cli_json({"status"});
  EXPECT_EQ(sb[0]["peer"], hosts_->alpha_name());
  auto text = alpha().cli({"status"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find(src_), std::string::npos) << text.out;
}

TEST(Cli, SaysWhenTheDaemonIsNotRunning) {
  auto r = run({ZREP_AGENT_BINARY, "--socket", "/var/tmp/zrep-no-such-daemon.sock", "status"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("daemon is not running"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("zrep-agent serve"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace zrep::testbed

namespace zrep::testbed {
namespace {

TEST_F(Replication, RetentionKeepsEachSidesSavecountAndForeignSnapshots) {
  init();
  must({"zfs", "set", "zrep:savecount=2", src_});
  must({"zfs", "set", "zrep:savecount=3", dst_});
  must({"zfs", "snapshot", src_ + "@admin-keep"});
  for (int i = 0; i < 5; ++i) {
    write_file(mnt(src_) + "/round.txt", "round " + std::to_string(i) + "\n");
    auto r = alpha().cli({"sync", src_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto zrep_only = [](const std::vector<std::string>& v) {
    std::vector<std::string> out;
    for (const auto& s : v) {
      if (s.find("@zrep_") != std::string::npos) out.push_back(s.substr(s.find('@') + 1));
    }
    return out;
  };
  EXPECT_EQ(zrep_only(snapshots(src_)), (std::vector<std::string>{"zrep_000004", "zrep_000005"}));
  EXPECT_EQ(zrep_only(snapshots(dst_)),
            (std::vector<std::string>{"zrep_000003", "zrep_000004", "zrep_000005"}));
  EXPECT_TRUE(dataset_exists(src_ + "@admin-keep"));
  expect_same_data();
  expect_newest_snapshot_same();

  // `expire` with a smaller count on the destination; the newest common snapshot stays.
  must({"zfs", "set", "zrep:savecount=1", dst_});
  auto j = alpha().cli_json({"expire", src_});
  ASSERT_EQ(j.size(), 1u) << j.dump();
  EXPECT_EQ(zrep_only(snapshots(dst_)), (std::vector<std::string>{"zrep_000005"}));
  // Incremental replication still works from the kept base.
  write_file(mnt(src_) + "/after-expire.txt", "still incremental\n");
  auto s = alpha().cli_json({"sync", src_});
  EXPECT_EQ(s[0]["base"], src_ + "@zrep_000005");
  expect_same_data();
}

TEST_F(Replication, InitForceReplacesAReplicaAndKeepsTheOldCopy) {
  init();
  write_file(mnt(src_) + "/v2.txt", "second version\n");
  ASSERT_EQ(alpha().cli({"sync", src_}).exit_code, 0);
  auto r = alpha().cli_json({"init", "--force", src_, beta_name(), dst_});
  std::string aside = r["replaced_as"].get<std::string>();
  ASSERT_FALSE(aside.empty()) << r.dump();
  EXPECT_TRUE(dataset_exists(aside));
  EXPECT_TRUE(std::filesystem::exists(mnt(aside) + "/v2.txt")) << "the old copy keeps its data";
  expect_same_data();
  expect_newest_snapshot_same();
  write_file(mnt(src_) + "/v3.txt", "third\n");
  ASSERT_EQ(alpha().cli({"sync", src_}).exit_code, 0);
  expect_same_data();
}

TEST_F(Replication, InitForceNeverReplacesAnUnrelatedDataset) {
  must({"zfs", "create", dst_});
  write_file(mnt(dst_) + "/precious.txt", "not a replica\n");
  auto r = alpha().cli({"init", "--force", src_, beta_name(), dst_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("refuses to replace"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::exists(mnt(dst_) + "/precious.txt"));
  EXPECT_TRUE(snapshots(src_).empty()) << "the source is left as it was";
}

TEST_F(Replication, InitWhoseAnswerWasLostAdoptsTheReplica) {
  init();
  // As if the final answer of init never came back: the source recorded nothing.
  for (const char* p : {"zrep:src-fs", "zrep:src-host", "zrep:dest-fs", "zrep:dest-host",
                        "zrep:master", "zrep:savecount", "zrep:epoch"}) {
    must({"zfs", "inherit", p, src_});
  }
  must({"zfs", "inherit", "zrep:sent", src_ + "@zrep_000000"});
  auto guid_before = zget(dst_ + "@zrep_000000", "guid");
  auto j = alpha().cli_json({"init", src_, beta_name(), dst_});
  EXPECT_EQ(j["adopted"], true) << j.dump();
  EXPECT_EQ(zget(src_, "zrep:master"), "yes");
  EXPECT_EQ(zget(dst_ + "@zrep_000000", "guid"), guid_before);
  EXPECT_EQ(snapshots(dst_).size(), 1u);
  write_file(mnt(src_) + "/after.txt", "after adoption\n");
  ASSERT_EQ(alpha().cli({"sync", src_}).exit_code, 0);
  expect_same_data();
}

TEST_F(Replication, ClearRemovesTheConfigOnBothSidesAndNeverData) {
  init();
  auto no = alpha().cli({"clear", src_, beta_name()});
  EXPECT_EQ(no.exit_code, 2) << "clear without --yes must not act";
  EXPECT_EQ(zget(src_, "zrep:master"), "yes");
  auto r = alpha().cli({"clear", src_, beta_name(), "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& ds : {src_, dst_}) {
    for (const char* p : {"zrep:master", "zrep:src-fs", "zrep:dest-fs", "zrep:dest-host"}) {
      EXPECT_EQ(zget(ds, p), "-") << ds << " " << p;
    }
    EXPECT_EQ(snapshots(ds).size(), 1u) << "snapshots stay";
    EXPECT_EQ(zget(snapshots(ds).back(), "zrep:sent"), "-");
  }
  expect_same_data();
  EXPECT_TRUE(alpha().cli_json({"list"}).empty());
  EXPECT_TRUE(beta().cli_json({"list", "-L"}).empty());
}

}  // namespace
}  // namespace zrep::testbed
