// Failover, takeover, fencing and resync with two real agents on real zfs-fuse pools. Every
// assertion is on what ZFS holds afterwards: files, snapshot GUIDs, properties, and whether a
// filesystem takes writes.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "tests/integration/failover_fixture.h"

namespace zrep::testbed {
namespace {

TEST_F(Failover, PlannedFromTheMasterThenSyncsFlowBackAndItFailsBack) {
  init();
  ASSERT_EQ(alpha().cli({"sync", src_}).exit_code, 0);
  // Written after the last sync, just before the failover: must be on the new master.
  write_file(mnt(src_) + "/last-minute.txt", "written just before the failover\n");
  auto r = alpha().cli({"failover", src_});
  ASSERT_EQ(r.exit_code, 0) << text(r);
  EXPECT_NE(r.out.find("is the master now (epoch 2)"), std::string::npos) << r.out;
  expect_master(dst_, 2);
  EXPECT_EQ(read_file(mnt(dst_) + "/last-minute.txt"), "written just before the failover\n");
  expect_same_data();
  expect_one_common_snapshot();
  expect_sync_flows(dst_, "b1");

  // And back again, this time run on the host that is now the standby.
  r = alpha().cli({"failover", src_});
  ASSERT_EQ(r.exit_code, 0) << text(r);
  expect_master(src_, 3);
  expect_same_data();
  expect_sync_flows(src_, "a1");
}

TEST_F(Failover, TakeoverOnTheStandbyIsAPlannedFailover) {
  init();
  write_file(mnt(src_) + "/last-minute.txt", "unsent\n");
  auto r = beta().cli({"takeover", dst_});
  ASSERT_EQ(r.exit_code, 0) << text(r);
  // The master's result, shown on the standby (TakeoverReply's fields).
  EXPECT_NE(r.out.find("failover done: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(":" + dst_ + " is the master now (epoch 2)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(":" + src_ + " its read-only standby"), std::string::npos) << r.out;
  expect_master(dst_, 2);
  EXPECT_EQ(read_file(mnt(dst_) + "/last-minute.txt"), "unsent\n");
  expect_sync_flows(dst_, "b1");
  auto st = beta().cli_json({"status", dst_});
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0]["role"], "master");
  EXPECT_EQ(st[0]["epoch"], "2");
}

TEST_F(Failover, AtANamedCommonSnapshotRollsBothSidesBackToIt) {
  init();  // zrep_000000
  write_file(mnt(src_) + "/second.txt", "2\n");
  ASSERT_EQ(alpha().cli({"sync", src_}).exit_code, 0);  // zrep_000001
  write_file(mnt(src_) + "/third.txt", "3\n");
  ASSERT_EQ(alpha().cli({"sync", src_}).exit_code, 0);  // zrep_000002
  write_file(mnt(src_) + "/unsnapshotted.txt", "4\n");
  const std::string at = "zrep_000001";
  auto guid = zget(src_ + "@" + at, "guid");
  auto newer_guid = zget(src_ + "@zrep_000002", "guid");
  auto r = beta().cli({"failover", dst_ + "@" + at});
  ASSERT_EQ(r.exit_code, 0) << text(r);
  expect_master(dst_, 2);
  expect_one_common_snapshot();
  EXPECT_EQ(zget(snapshots(dst_).back(), "guid"), guid);
  EXPECT_TRUE(std::filesystem::exists(mnt(dst_) + "/second.txt"));
  EXPECT_FALSE(std::filesystem::exists(mnt(dst_) + "/third.txt"));
  expect_same_data();
  // Nothing newer than @SNAP was destroyed: the old master's filesystem as it was (its data,
  // written after the snapshot or never snapshotted, and zrep_000002 with its GUID) is kept on
  // alpha, read-only, outside the pairing; the failover's output and status say where.
  const std::string aside = src_ + "-kept-e2";
  ASSERT_TRUE(dataset_exists(aside)) << text(r);
  EXPECT_NE(r.out.find(aside), std::string::npos) << r.out;
  EXPECT_EQ(read_file(mnt(aside) + "/third.txt"), "3\n");
  EXPECT_EQ(read_file(mnt(aside) + "/unsnapshotted.txt"), "4\n");
  EXPECT_EQ(zget(aside + "@zrep_000002", "guid"), newer_guid);
  EXPECT_TRUE(dataset_exists(aside + "@zrep-kept-e2"));
  EXPECT_TRUE(refuses_writes(mnt(aside)));
  EXPECT_EQ(zget(aside, "zrep:src-host"), "-");
  EXPECT_EQ(zget(aside, "zrep:switch"), "-");
  EXPECT_NE(zget(src_, "zrep:kept").find("aside=" + aside), std::string::npos);
  auto st = alpha().cli({"status", src_});
  EXPECT_NE(st.out.find("KEPT"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find(aside), std::string::npos) << st.out;
  expect_sync_flows(dst_, "b1");
  EXPECT_EQ(read_file(mnt(aside) + "/third.txt"), "3\n");  // still there after syncs
}

TEST_F(Failover, BadInputIsRefusedAndChangesNothing) {
  init();
  auto before_src = snapshots(src_);
  // Not a zrep filesystem here.
  auto r = alpha().cli({"failover", hosts_->src_pool() + "/nosuch"});
  EXPECT_EQ(r.exit_code, 1) << text(r);
  EXPECT_NE(r.err.find("not replicated by zrep"), std::string::npos) << r.err;
  // A snapshot that is not on both sides.
  r = alpha().cli({"failover", src_ + "@zrep_00ffff"});
  EXPECT_EQ(r.exit_code, 1) << text(r);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  ASSERT_EQ(run({"zfs", "snapshot", src_ + "@only-here"}).exit_code, 0);
  r = alpha().cli({"failover", src_ + "@only-here"});
  EXPECT_EQ(r.exit_code, 1) << text(r);
  EXPECT_NE(r.err.find("has no snapshot with the GUID"), std::string::npos) << r.err;
  ASSERT_EQ(run({"zfs", "destroy", src_ + "@only-here"}).exit_code, 0);
  // Takeover on the master itself: its peer is not the master.
  r = alpha().cli({"takeover", src_});
  EXPECT_EQ(r.exit_code, 1) << text(r);
  EXPECT_NE(r.err.find("already the master"), std::string::npos) << r.err;
  // A forced takeover while the master answers would lose what it has not sent.
  r = beta().cli({"takeover", "--force", dst_});
  EXPECT_EQ(r.exit_code, 1) << text(r);
  EXPECT_NE(r.err.find("answers"), std::string::npos) << r.err;
  // resync of a filesystem that was never demoted.
  r = alpha().cli({"resync", src_});
  EXPECT_EQ(r.exit_code, 1) << text(r);
  EXPECT_NE(r.err.find("not demoted"), std::string::npos) << r.err;
  // Nothing changed: alpha is still the writable master at epoch 1, syncs still flow.
  EXPECT_EQ(snapshots(src_), before_src);
  expect_master(src_, 1);
  expect_sync_flows(src_, "a1");
}

TEST_F(Failover, ForcedTakeoverFencesTheOldMasterAndResyncKeepsItsData) {
  init();
  ASSERT_EQ(alpha().cli({"sync", src_}).exit_code, 0);
  // alpha's agent goes away; alpha's filesystem keeps taking writes (a partition).
  alpha().stop();
  write_file(mnt(src_) + "/diverged.txt", "written on alpha after it lost contact\n");
  auto r = beta().cli({"takeover", "--force", dst_});
  ASSERT_EQ(r.exit_code, 0) << text(r);
  EXPECT_NE(r.out.find("FORCED"), std::string::npos) << r.out;
  EXPECT_EQ(zget(dst_, "zrep:master"), "yes");
  EXPECT_EQ(zget(dst_, "zrep:epoch"), "2");
  EXPECT_NE(zget(dst_, "zrep:takeover"), "-");
  EXPECT_FALSE(refuses_writes(mnt(dst_)));
  write_file(mnt(dst_) + "/after-takeover.txt", "written on beta as the new master\n");

  // alpha comes back: it finds beta at a higher epoch and demotes itself.
  alpha().start();
  ASSERT_TRUE(eventually([&] {
    return zget(src_, "zrep:fenced") != "-" && zget(src_, "zrep:master") == "-";
  })) << "alpha did not demote itself";
  EXPECT_TRUE(refuses_writes(mnt(src_)));
  EXPECT_EQ(zget(src_, "zrep:master"), "-");
  EXPECT_EQ(read_file(mnt(src_) + "/diverged.txt"), "written on alpha after it lost contact\n");
  auto st = alpha().cli({"status", src_});
  EXPECT_EQ(st.exit_code, 4) << "a demoted filesystem needs attention";
  EXPECT_NE(st.out.find("DEMOTED"), std::string::npos) << st.out;
  auto check = alpha().cli({"check", src_});
  EXPECT_EQ(check.exit_code, 2) << check.out;
  EXPECT_EQ(check.out.rfind("ZREP CRITICAL - " + src_ + ": DEMOTED", 0), 0u) << check.out;
  EXPECT_NE(st.out.find("took over at epoch 2"), std::string::npos) << st.out;
  auto stj = alpha().cli_json({"status", src_});
  EXPECT_EQ(stj[0]["role"], "demoted");
  // Nothing is sent from or into it until resync.
  r = beta().cli({"sync", dst_});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("resync"), std::string::npos) << r.err;
  r = alpha().cli({"sync", src_});
  EXPECT_NE(r.exit_code, 0);

  r = alpha().cli({"resync", src_});
  ASSERT_EQ(r.exit_code, 0) << text(r);
  auto j = nlohmann::json::parse(alpha().cli({"--json", "status", src_}).out);
  EXPECT_EQ(j[0]["role"], "destination");
  const std::string aside = src_ + "-diverged-e2";
  ASSERT_TRUE(dataset_exists(aside));
  EXPECT_EQ(read_file(mnt(aside) + "/diverged.txt"), "written on alpha after it lost contact\n");
  // beta replicates into alpha again, incrementally; the divergent copy stays.
  auto sj = beta().cli_json({"sync", dst_});
  ASSERT_TRUE(sj.is_array() && sj.size() == 1) << sj.dump();
  EXPECT_EQ(read_file(mnt(src_) + "/after-takeover.txt"), "written on beta as the new master\n");
  EXPECT_FALSE(std::filesystem::exists(mnt(src_) + "/diverged.txt"));
  expect_same_data();
  EXPECT_EQ(read_file(mnt(aside) + "/diverged.txt"), "written on alpha after it lost contact\n");
  EXPECT_TRUE(refuses_writes(mnt(src_)));
  auto d = run({"zfs", "destroy", "-r", aside});      // the operator's call
  for (int i = 0; i < 20 && d.exit_code != 0; ++i) {  // zfs-fuse: "dataset is busy" a moment
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    d = run({"zfs", "destroy", "-r", aside});
  }
  EXPECT_EQ(d.exit_code, 0) << text(d);
}

TEST_F(Failover, TwoMastersAtOneEpochRefuseToSend) {
  init();
  // Hand-edited properties: the standby claims the master role at the same epoch.
  ASSERT_EQ(run({"zfs", "set", "zrep:master=yes", dst_}).exit_code, 0);
  auto before = snapshots(src_);
  write_file(mnt(src_) + "/new.txt", "not to be sent\n");
  auto r = alpha().cli({"sync", src_});
  EXPECT_EQ(r.exit_code, 1) << text(r);
  EXPECT_NE(r.err.find("SPLIT BRAIN"), std::string::npos) << r.err;
  EXPECT_EQ(snapshots(src_), before);  // no snapshot made, nothing sent
  EXPECT_FALSE(std::filesystem::exists(mnt(dst_) + "/new.txt"));
  r = alpha().cli({"failover", src_});
  EXPECT_EQ(r.exit_code, 1) << text(r);
  EXPECT_NE(r.err.find("SPLIT BRAIN"), std::string::npos) << r.err;
  EXPECT_EQ(zget(src_, "zrep:switch"), "-");
}

TEST_F(Failover, AFailoverWaitsForNoRunningSyncAndNamesTheHolder) {
  init();
  // alpha holds both locks for 6 s in the middle of a sync.
  hosts_->alpha().stop();
  alpha().set_env({"ZREP_PAUSE_AT=sync-locked:6"});
  alpha().start();
  write_file(mnt(src_) + "/during.txt", "sync in flight\n");
  auto sync = std::async(std::launch::async, [&] { return alpha().cli({"sync", src_}); });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto st = beta().cli_json({"status", dst_});
  ASSERT_EQ(st.size(), 1u);
  ASSERT_TRUE(st[0].contains("lock")) << st.dump();
  EXPECT_EQ(st[0]["lock"]["host"], hosts_->alpha_name());
  EXPECT_EQ(st[0]["lock"]["operation"], "sync");
  auto r = alpha().cli({"failover", src_});
  EXPECT_EQ(r.exit_code, 1) << text(r);
  EXPECT_NE(r.err.find("locked by " + hosts_->alpha_name()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'sync'"), std::string::npos) << r.err;
  r = beta().cli({"failover", dst_});
  EXPECT_EQ(r.exit_code, 1) << text(r);
  EXPECT_NE(r.err.find("'sync'"), std::string::npos) << r.err;
  auto s = sync.get();
  ASSERT_EQ(s.exit_code, 0) << text(s);
  expect_master(src_, 1);
  EXPECT_EQ(read_file(mnt(dst_) + "/during.txt"), "sync in flight\n");
  r = beta().cli({"failover", dst_});
  ASSERT_EQ(r.exit_code, 0) << text(r);
  expect_master(dst_, 2);
}

TEST_F(Failover, APeersLockEndsWhenItsAgentIsKilled) {
  init();
  alpha().stop();
  alpha().set_env({"ZREP_PAUSE_AT=sync-locked:30"});
  alpha().start();
  auto sync = std::async(std::launch::async, [&] { return alpha().cli({"sync", src_}, 60); });
  ASSERT_TRUE(eventually([&] {
    auto st = beta().cli_json({"status", dst_});
    return st.size() == 1 && st[0].contains("lock");
  }));
  alpha().kill9();
  (void)sync.get();
  // The lock went with alpha's connection: beta can take over at once, no lease to wait for.
  ASSERT_TRUE(eventually(
      [&] {
        return !beta().cli_json({"status", dst_})[0].contains("lock");
      },
      5));
  auto r = beta().cli({"takeover", "--force", dst_});
  ASSERT_EQ(r.exit_code, 0) << text(r);
  EXPECT_EQ(zget(dst_, "zrep:master"), "yes");
}

TEST_F(Failover, ConcurrentFailoversFromBothHostsEndInOneConsistentState) {
  init();
  auto a = std::async(std::launch::async, [&] { return alpha().cli({"failover", src_}); });
  auto b = std::async(std::launch::async, [&] { return beta().cli({"failover", dst_}); });
  auto ra = a.get();
  auto rb = b.get();
  int ok = (ra.exit_code == 0) + (rb.exit_code == 0);
  EXPECT_GE(ok, 1) << text(ra) << "\n" << text(rb);
  for (const auto* r : {&ra, &rb}) {
    if (r->exit_code != 0) {
      // Refused while the other ran, or found the roles already switched by it.
      EXPECT_TRUE(r->err.find("locked by") != std::string::npos ||
                  r->err.find("not the master") != std::string::npos)
          << text(*r);
    }
  }
  // One switch, or two in a row (the second found the first done): either way one master.
  const std::string master = zget(src_, "zrep:master") == "yes" ? src_ : dst_;
  expect_master(master, ok == 2 ? 3 : 2);
  expect_same_data();
  expect_sync_flows(master, "x");
}

TEST_F(Failover, AForcedTakeoverCutShortIsFinishedAtRestart) {
  init();
  alpha().stop();
  beta().stop();
  beta().set_env({"ZREP_FAULT_AT=forced-committed"});
  beta().start();
  auto r = beta().cli({"takeover", "--force", dst_});
  EXPECT_NE(r.exit_code, 0);
  ASSERT_TRUE(beta().wait_exit(30)) << text(r);
  EXPECT_EQ(zget(dst_, "zrep:epoch"), "2");  // committed, but not master yet
  EXPECT_NE(zget(dst_, "zrep:master"), "yes");
  beta().set_env({});
  beta().start();
  ASSERT_TRUE(eventually([&] { return zget(dst_, "zrep:master") == "yes"; }));
  EXPECT_FALSE(refuses_writes(mnt(dst_)));
  EXPECT_EQ(zget(dst_, "zrep:src-host"), hosts_->beta_name());
  EXPECT_EQ(zget(dst_, "zrep:dest-host"), hosts_->alpha_name());
  EXPECT_NE(zget(dst_, "zrep:takeover"), "-");
}

TEST_F(Failover, AnAbandonedFailoverAtASnapshotLosesNothingOnTheMaster) {
  init();
  write_file(mnt(src_) + "/one.txt", "1\n");
  ASSERT_EQ(alpha().cli({"sync", src_}).exit_code, 0);  // zrep_000001
  write_file(mnt(src_) + "/two.txt", "2\n");
  ASSERT_EQ(alpha().cli({"sync", src_}).exit_code, 0);  // zrep_000002
  write_file(mnt(src_) + "/unsnapshotted.txt", "3\n");
  beta().stop();
  beta().set_env({"ZREP_FAULT_AT=standby-prepared"});
  beta().start();
  auto r = alpha().cli({"failover", src_ + "@zrep_000001"});
  EXPECT_NE(r.exit_code, 0);
  ASSERT_TRUE(beta().wait_exit(30)) << text(r);
  beta().set_env({});
  beta().start();
  ASSERT_TRUE(eventually([&] {
    return zget(src_, "zrep:switch") == "-" && zget(dst_, "zrep:switch") == "-" &&
           !refuses_writes(mnt(src_));
  }));
  expect_master(src_, 1);
  // Nothing after the named snapshot was rolled back on the master: it never committed. Nothing
  // was set aside either (no copy, no leftover snapshot of the master's last state).
  EXPECT_EQ(read_file(mnt(src_) + "/two.txt"), "2\n");
  EXPECT_EQ(read_file(mnt(src_) + "/unsnapshotted.txt"), "3\n");
  EXPECT_TRUE(dataset_exists(src_ + "@zrep_000002"));
  EXPECT_FALSE(dataset_exists(src_ + "-kept-e2"));
  EXPECT_FALSE(dataset_exists(src_ + "@zrep-kept-e2"));
  EXPECT_EQ(zget(src_, "zrep:kept"), "-");
  auto j = alpha().cli_json({"sync", src_});
  ASSERT_EQ(j.size(), 1u) << j.dump();
  expect_same_data();
  // The failover at the snapshot, run again, goes through and keeps the newer data.
  auto again = alpha().cli({"failover", src_ + "@zrep_000001"});
  ASSERT_EQ(again.exit_code, 0) << text(again);
  expect_master(dst_, 2);
  EXPECT_EQ(read_file(mnt(src_ + "-kept-e2") + "/two.txt"), "2\n");
  EXPECT_EQ(read_file(mnt(src_ + "-kept-e2") + "/unsnapshotted.txt"), "3\n");
}

// A crash at every step of the two-phase switch, on either agent: after a restart both hosts
// converge to one master, with no manual step, and replication goes on.
struct CrashCase {
  const char* agent;  // "alpha" (the coordinator, the old master) or "beta" (the standby)
  const char* step;
};

void PrintTo(const CrashCase& c, std::ostream* os) { *os << c.agent << " at " << c.step; }

class FailoverCrash : public Failover, public ::testing::WithParamInterface<CrashCase> {};

TEST_P(FailoverCrash, BothHostsConvergeAfterARestart) {
  init();
  write_file(mnt(src_) + "/last-minute.txt", "just before the failover\n");
  const CrashCase c = GetParam();
  Agent& victim = std::string(c.agent) == "alpha" ? alpha() : beta();
  victim.stop();
  victim.set_env({std::string("ZREP_FAULT_AT=") + c.step});
  victim.start();
  auto r = alpha().cli({"failover", src_});
  ASSERT_TRUE(victim.wait_exit(30)) << "the agent did not reach step " << c.step << "\n" << text(r);
  victim.set_env({});
  victim.start();
  // Both sides resolve it by themselves: the restarted agent at start, the other one by
  // asking again every few seconds.
  auto settled = [&] {
    bool one_master = (zget(src_, "zrep:master") == "yes") != (zget(dst_, "zrep:master") == "yes");
    return one_master && zget(src_, "zrep:switch") == "-" && zget(dst_, "zrep:switch") == "-" &&
           zget(src_, "zrep:epoch") == zget(dst_, "zrep:epoch");
  };
  ASSERT_TRUE(eventually(settled, 40))
      << "not converged: alpha master=" << zget(src_, "zrep:master")
      << " switch=" << zget(src_, "zrep:switch") << " epoch=" << zget(src_, "zrep:epoch")
      << "; beta master=" << zget(dst_, "zrep:master") << " switch=" << zget(dst_, "zrep:switch")
      << " epoch=" << zget(dst_, "zrep:epoch");
  const bool switched = zget(dst_, "zrep:master") == "yes";
  expect_master(switched ? dst_ : src_, switched ? 2 : 1);
  // No data lost: what was written before the failover is on the master.
  EXPECT_EQ(read_file(mnt(switched ? dst_ : src_) + "/last-minute.txt"),
            "just before the failover\n");
  expect_sync_flows(switched ? dst_ : src_, "after");
}

INSTANTIATE_TEST_SUITE_P(
    EveryStep, FailoverCrash,
    ::testing::Values(CrashCase{"alpha", "journal"}, CrashCase{"alpha", "fenced"},
                      CrashCase{"alpha", "final-sent"}, CrashCase{"alpha", "prepared"},
                      CrashCase{"alpha", "committed"}, CrashCase{"alpha", "demoted"},
                      CrashCase{"beta", "standby-prepared"}, CrashCase{"beta", "standby-committed"},
                      CrashCase{"beta", "standby-promoted"}),
    [](const ::testing::TestParamInfo<CrashCase>& p) {
      std::string name = std::string(p.param.agent) + "_" + p.param.step;
      for (auto& ch : name) {
        if (ch == '-') ch = '_';
      }
      return name;
    });

}  // namespace
}  // namespace zrep::testbed
