// The daemon replicating on its own: scheduled syncs, the peer down for many intervals, low
// space. Real agents, real zfs-fuse pools; assertions on snapshots and file contents.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

class Schedule : public PairTest {
 protected:
  void SetUp() override {
    make_hosts(PoolSizes{});
    write_file(mnt(src_) + "/a.txt", "first\n");
    init();
  }

  void restart_alpha_with(const std::string& extra) {
    AgentSpec spec = hosts_->alpha_spec;
    spec.extra_config = extra;
    hosts_->restart_alpha(spec);
  }
  size_t zrep_snapshots(const std::string& fs) {
    size_t n = 0;
    for (const auto& s : snapshots(fs)) n += s.find("@zrep_") != std::string::npos;
    return n;
  }
  // Waits until the destination's files equal the source's.
  bool converges(int seconds) {
    for (int i = 0; i < seconds * 4; ++i) {
      if (tree_digest(mnt(src_)) == tree_digest(mnt(dst_))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return false;
  }
};

TEST_F(Schedule, SyncsOnItsOwnAtTheInterval) {
  restart_alpha_with("[[filesystem]]\nname = \"" + src_ + "\"\ninterval = 1\n");
  write_file(mnt(src_) + "/b.txt", "written after init, never synced by hand\n");
  EXPECT_TRUE(converges(20));
  auto st = alpha().cli_json({"status", src_});
  EXPECT_TRUE(st[0].contains("next_run")) << st.dump();
  EXPECT_EQ(zget(snapshots(src_).back(), "guid"), zget(snapshots(dst_).back(), "guid"));
}

TEST_F(Schedule, PeerDownForManyIntervalsLeavesThePoolAsItWasThenCatchesUp) {
  restart_alpha_with("sync_interval = 1\nmax_backoff = 2\nmax_unsent = 2\n");
  ASSERT_TRUE(converges(20));
  beta().stop();
  // A run that was under way when beta went away may keep its snapshot (it cannot tell whether
  // beta got it); count from when that run is over.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const size_t before = zrep_snapshots(src_);
  write_file(mnt(src_) + "/while-down.txt", "written while the peer is down\n");
  std::this_thread::sleep_for(std::chrono::seconds(8));  // about 8 intervals
  EXPECT_LE(zrep_snapshots(src_), before + 2) << "snapshots piled up while the peer was down";
  EXPECT_EQ(zrep_snapshots(src_), before) << "no snapshot before the peer answers";
  auto st = alpha().cli_json({"status", src_});
  EXPECT_GE(st[0].value("failures_in_a_row", 0), 2) << st.dump();
  EXPECT_NE(st[0].value("last_error", std::string()).find(beta_name()), std::string::npos)
      << st.dump();
  auto started = std::chrono::steady_clock::now();
  beta().start();
  EXPECT_TRUE(converges(20)) << "no catch-up after the peer came back";
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, std::chrono::seconds(10)) << "the peer's return should end the backoff";
  EXPECT_EQ(zget(snapshots(src_).back(), "guid"), zget(snapshots(dst_).back(), "guid"));
}

TEST_F(Schedule, LowSpaceSkipsTheRunWithoutASnapshot) {
  restart_alpha_with("min_free = \"100T\"\n");
  const size_t before = zrep_snapshots(src_);
  write_file(mnt(src_) + "/c.txt", "change\n");
  auto r = alpha().cli({"sync", src_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("min_free"), std::string::npos) << r.err;
  EXPECT_EQ(zrep_snapshots(src_), before);
  auto st = alpha().cli_json({"status", src_});
  EXPECT_NE(st[0].value("last_error", std::string()).find("min_free"), std::string::npos);
}

}  // namespace
}  // namespace zrep::testbed
