// Issue 10, cases 6 and 7: a peer's claims decide only what this host's own state allows, and a
// failover at a snapshot destroys nothing. A hostile client of the suite's own, with real TLS
// and a configured peer's certificate, against real agents on zfs-fuse; a hostile *listener*
// (the standby's certificate, stolen) for the lies the master reads when it dials.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "agent/config/config.h"
#include "agent/endpoint/peer_service.h"
#include "agent/logic/zrep_props.h"
#include "agent/rpc/net.h"
#include "agent/rpc/peer_session.h"
#include "agent/zfs/zfs.h"
#include "tests/integration/failover_fixture.h"
#include "tests/integration/hostile_listener.h"

namespace zrep::testbed {
namespace {

using namespace std::chrono_literals;

class HostileRoles : public Failover {
 protected:
  // A client with `as`'s certificate (alpha or beta), dialling the other agent.
  std::unique_ptr<PeerClient> dial_as(Agent& as) {
    auto cfg = load_config(as.config_path());
    EXPECT_TRUE(cfg) << cfg.error().message;
    auto tls = TlsContext::create({cfg->ca_file, cfg->cert_file, cfg->key_file});
    EXPECT_TRUE(tls) << tls.error().message;
    auto zfs = Zfs::probe();
    EXPECT_TRUE(zfs);
    auto session = dial_peer(*cfg, **tls, cfg->peers.at(0),
                             make_hello(*cfg, zfs->features(), "hostile-roles"));
    EXPECT_TRUE(session) << session.error().message;
    if (!session) return nullptr;
    return std::make_unique<PeerClient>(std::move(*session), 30s);
  }

  // What beta would truthfully say of dst_, for a forgery to start from.
  static peer::DescribeReply truth(const std::string& fs) {
    peer::DescribeReply r;
    auto zfs = Zfs::probe();
    if (!zfs) return r;
    r.set_exists(true);
    r.set_parent_exists(true);
    auto p = zfs->get_props(fs, props::filesystem_props());
    if (p) {
      for (const auto& [k, v] : *p) (*r.mutable_props())[k] = v;
    }
    auto snaps = zfs->list_snapshots(fs);
    if (snaps) to_wire(*snaps, r.mutable_snapshots());
    return r;
  }

  // Appends lines to the [[peer]] table of `agent`'s config (the table comes last) and restarts.
  static void add_to_peer_entry(Agent& agent, const std::string& lines) {
    agent.stop();
    std::ofstream(agent.config_path(), std::ios::app) << lines;
    agent.start();
  }

  // alpha is still the healthy writable master at epoch 1 of the pairing, not fenced.
  void expect_healthy_master() {
    EXPECT_EQ(zget(src_, "zrep:master"), "yes");
    EXPECT_EQ(zget(src_, "zrep:fenced"), "-");
    EXPECT_EQ(zget(src_, "zrep:epoch"), "1");
    EXPECT_EQ(zget(src_, "zrep:dest-host"), beta_name());
    EXPECT_FALSE(refuses_writes(mnt(src_))) << src_ << " should take writes";
  }
};

// --- locks ---

TEST_F(HostileRoles, ALockOnAFilesystemNotPairedWithThePeerIsRefused) {
  init();
  // Two filesystems inside beta's allowance on alpha that beta has no part in: a master
  // replicating to gamma, and a replica gamma feeds.
  const std::string other = hosts_->src_pool() + "/for-gamma";
  const std::string from_gamma = hosts_->src_pool() + "/from-gamma";
  must({"zfs", "create", "-o", "zrep:master=yes", "-o", "zrep:src-host=" + hosts_->alpha_name(),
        "-o", "zrep:dest-host=gamma", "-o", "zrep:src-fs=" + other, "-o", "zrep:dest-fs=tank/x",
        other});
  must({"zfs", "create", "-o", "zrep:src-host=gamma", "-o", "zrep:src-fs=tank/x", "-o",
        "zrep:dest-host=" + hosts_->alpha_name(), "-o", "zrep:dest-fs=" + from_gamma, from_gamma});
  auto beta_client = dial_as(beta());
  ASSERT_TRUE(beta_client);
  for (const auto& fs : {other, from_gamma}) {
    Status s = beta_client->lock(fs, "sync", "t-" + fs);
    ASSERT_FALSE(s) << fs << " was locked by a peer it is not paired with";
    EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied) << s.message();
    EXPECT_NE(s.message().find("may not lock it"), std::string::npos) << s.message();
  }
  // alpha's own operations on them are not blocked: the lock is not held.
  auto st = alpha().cli_json({"status", other});
  EXPECT_FALSE(st[0].contains("lock")) << st.dump();
  // Its own pairing's master it may lock (recovery after a switch needs that), and release.
  ASSERT_TRUE(beta_client->lock(src_, "recover", "t1"));
  ASSERT_TRUE(beta_client->lock(src_, "recover", "t1", true));
  expect_healthy_master();
  expect_sync_flows(src_, "after-locks");
}

TEST_F(HostileRoles, APeersLockOnTheMasterCannotBeHeldBeyondItsLease) {
  auto spec = hosts_->alpha_spec;
  spec.extra_config = "lock_lease = 3";
  hosts_->restart_alpha(spec);
  init();
  auto beta_client = dial_as(beta());
  ASSERT_TRUE(beta_client);
  ASSERT_TRUE(beta_client->lock(src_, "sync", "forever"));
  write_file(mnt(src_) + "/while-locked.txt", "written while beta holds the lock\n");
  auto r = alpha().cli({"sync", src_});
  EXPECT_NE(r.exit_code, 0) << "the lock did not hold at all";
  EXPECT_NE(r.err.find("locked by " + beta_name()), std::string::npos) << r.err;
  // beta keeps its session busy (a request every 300 ms renews a lease) and tries to take the
  // lock again; past the limit alpha's own sync gets through all the same.
  std::atomic<bool> stop{false};
  std::atomic<int> relocked{0};
  std::thread keeper([&] {
    int n = 0;
    while (!stop) {
      (void)beta_client->describe(src_);
      if (beta_client->lock(src_, "sync", "again-" + std::to_string(n++))) ++relocked;
      std::this_thread::sleep_for(300ms);
    }
  });
  bool synced = eventually(
      [&] {
        return alpha().cli({"sync", src_}).exit_code == 0 &&
               read_file(mnt(dst_) + "/while-locked.txt") == "written while beta holds the lock\n";
      },
      20);
  stop = true;
  keeper.join();
  EXPECT_TRUE(synced) << "alpha never got its own filesystem back from beta's lock";
  EXPECT_EQ(relocked, 0) << "beta took the lock again at once after the limit";
  expect_healthy_master();
  expect_same_data();
}

// --- epochs and the master's role ---

struct Lie {
  const char* name;
  std::function<void(peer::DescribeReply&, const std::string& alpha, const std::string& src,
                     const std::string& dst, const std::string& beta)>
      apply;
};
void PrintTo(const Lie& l, std::ostream* os) { *os << l.name; }

class HostileRolesLies : public HostileRoles, public ::testing::WithParamInterface<Lie> {};

TEST_P(HostileRolesLies, AHigherEpochLieInDescribeDoesNotDemoteAHealthyMaster) {
  init();
  write_file(mnt(src_) + "/second.txt", "2\n");
  ASSERT_EQ(alpha().cli({"sync", src_}).exit_code, 0);
  const auto before = snapshots(src_);
  const auto guids = [&] {
    std::vector<std::string> g;
    for (const auto& s : snapshots(src_)) g.push_back(zget(s, "guid"));
    return g;
  };
  const auto guids_before = guids();
  // beta's agent goes; a liar with beta's certificate answers on beta's port.
  beta().stop();
  auto cfg = load_config(beta().config_path());
  ASSERT_TRUE(cfg) << cfg.error().message;
  auto tls = TlsContext::create({cfg->ca_file, cfg->cert_file, cfg->key_file});
  ASSERT_TRUE(tls) << tls.error().message;
  const Lie lie = GetParam();
  {
    // Describe gets the lie, Lock a yes, anything else an error.
    std::atomic<int> describes{0};
    HostileListener liar(
        *cfg, *tls, hosts_->beta_spec.port, [&](const peer::Request& req, peer::Reply& reply) {
          if (req.has_describe()) {
            ++describes;
            auto r = truth(dst_);
            lie.apply(r, hosts_->alpha_name(), src_, dst_, beta_name());
            *reply.mutable_describe() = r;
          } else if (req.has_lock()) {
            reply.mutable_lock();
          } else {
            *reply.mutable_error() = to_wire(make_error(ErrorCode::kUnavailable, "not here"));
          }
        });
    ASSERT_TRUE(liar.bound());
    write_file(mnt(src_) + "/third.txt", "3\n");
    auto r = alpha().cli({"sync", src_});
    EXPECT_NE(r.exit_code, 0) << text(r);
    EXPECT_GT(describes.load(), 0) << "alpha never asked the liar";
    EXPECT_EQ(r.err.find("demoted"), std::string::npos) << r.err;
    // The background check (every mastered filesystem) hears the lie as well.
    std::this_thread::sleep_for(2s);
    expect_healthy_master();
    EXPECT_EQ(snapshots(src_), before);
    EXPECT_EQ(guids(), guids_before);
  }
  beta().start();
  auto j = alpha().cli_json({"sync", src_});
  ASSERT_TRUE(j.is_array() && j.size() == 1) << j.dump();
  EXPECT_EQ(read_file(mnt(dst_) + "/third.txt"), "3\n");
  expect_healthy_master();
  expect_same_data();
}

INSTANTIATE_TEST_SUITE_P(
    Lies, HostileRolesLies,
    ::testing::Values(
        Lie{"EpochTwoToTheSixtyFourMinusOne",
            [](peer::DescribeReply& r, const std::string&, const std::string&, const std::string&,
               const std::string&) {
              (*r.mutable_props())[props::kEpoch] = "18446744073709551615";
              (*r.mutable_props())[props::kMaster] = "yes";
            }},
        Lie{"EpochAThousandUp",
            [](peer::DescribeReply& r, const std::string&, const std::string&, const std::string&,
               const std::string&) {
              (*r.mutable_props())[props::kEpoch] = "1001";
              (*r.mutable_props())[props::kMaster] = "yes";
            }},
        // One epoch up, master, the pairing reversed, but no takeover record: not what a
        // forced takeover leaves.
        Lie{"OneUpWithoutATakeover",
            [](peer::DescribeReply& r, const std::string& alpha, const std::string& src,
               const std::string& dst, const std::string& beta) {
              auto& p = *r.mutable_props();
              p[props::kEpoch] = "2";
              p[props::kMaster] = "yes";
              p[props::kSrcHost] = beta;
              p[props::kSrcFs] = dst;
              p[props::kDestHost] = alpha;
              p[props::kDestFs] = src;
            }},
        // A takeover record at a snapshot older than one it acknowledged later.
        Lie{"OneUpTakenOverAtAnOlderSnapshot",
            [](peer::DescribeReply& r, const std::string& alpha, const std::string& src,
               const std::string& dst, const std::string& beta) {
              auto& p = *r.mutable_props();
              p[props::kEpoch] = "2";
              p[props::kMaster] = "yes";
              p[props::kSrcHost] = beta;
              p[props::kSrcFs] = dst;
              p[props::kDestHost] = alpha;
              p[props::kDestFs] = src;
              p[props::kTakeover] =
                  "forced at=1 epoch=2 old=" + alpha + ":" + src + " snapshot=zrep_000000";
            }}),
    [](const ::testing::TestParamInfo<Lie>& i) { return std::string(i.param.name); });

// --- names from the peer ---

TEST_F(HostileRoles, ARemoteSnapshotNamedZrepFfffffDoesNotStopSyncs) {
  init();
  // The standby's copy of the common snapshot is called zrep_ffffff there (same GUID).
  must({"zfs", "rename", dst_ + "@zrep_000000", dst_ + "@zrep_ffffff"});
  write_file(mnt(src_) + "/after.txt", "after the rename\n");
  auto j = alpha().cli_json({"sync", src_});
  ASSERT_TRUE(j.is_array() && j.size() == 1) << j.dump();
  EXPECT_TRUE(dataset_exists(src_ + "@zrep_000001")) << ::testing::PrintToString(snapshots(src_));
  EXPECT_EQ(read_file(mnt(dst_) + "/after.txt"), "after the rename\n");
  EXPECT_TRUE(dataset_exists(dst_ + "@zrep_ffffff"));  // untouched
  expect_healthy_master();
  expect_same_data();
  expect_sync_flows(src_, "again");
}

TEST_F(HostileRoles, DuplicateGuidsInMarkSentRunOnce) {
  init();
  must({"zfs", "inherit", "zrep:sent", dst_ + "@zrep_000000"});
  const std::string guid = zget(dst_ + "@zrep_000000", "guid");
  auto alpha_client = dial_as(alpha());
  ASSERT_TRUE(alpha_client);
  peer::MarkSentRequest req;
  req.set_fs(dst_);
  req.set_sent_time(1700000000);
  for (int i = 0; i < 200; ++i) req.add_guids(std::stoull(guid));
  auto r = alpha_client->mark_sent(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->marked(), 1u);
  EXPECT_EQ(zget(dst_ + "@zrep_000000", "zrep:sent"), "1700000000");
  expect_sync_flows(src_, "after-marks");
}

// --- takeovers a peer asks for ---

TEST_F(HostileRoles, AllowTakeoverFalseRefusesAPeersTakeoverWithAClearMessage) {
  init();
  add_to_peer_entry(alpha(), "allow_takeover = false\n");
  for (const std::vector<std::string>& cmd :
       std::vector<std::vector<std::string>>{{"failover", dst_}, {"takeover", dst_}}) {
    auto r = beta().cli(cmd);
    EXPECT_EQ(r.exit_code, 1) << text(r);
    EXPECT_NE(r.err.find("allow_takeover = false"), std::string::npos) << r.err;
  }
  // The protocol request itself, with a snapshot: refused the same way, nothing touched.
  auto before = snapshots(src_);
  auto beta_client = dial_as(beta());
  ASSERT_TRUE(beta_client);
  peer::TakeoverRequest req;
  req.set_fs(src_);
  req.set_snapshot("zrep_000000");
  auto t = beta_client->takeover(req, 60s);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, ErrorCode::kPermissionDenied) << t.error().message;
  EXPECT_EQ(snapshots(src_), before);
  expect_master(src_, 1);
  expect_sync_flows(src_, "still");
  // The master's own failover still works.
  auto f = alpha().cli({"failover", src_});
  ASSERT_EQ(f.exit_code, 0) << text(f);
  expect_master(dst_, 2);
}

TEST_F(HostileRoles, APeersTakeoverAtASnapshotDestroysNothingOnTheMaster) {
  init();
  write_file(mnt(src_) + "/second.txt", "2\n");
  ASSERT_EQ(alpha().cli({"sync", src_}).exit_code, 0);  // zrep_000001
  write_file(mnt(src_) + "/third.txt", "3\n");
  ASSERT_EQ(alpha().cli({"sync", src_}).exit_code, 0);  // zrep_000002
  write_file(mnt(src_) + "/unsnapshotted.txt", "4\n");
  const std::string newer_guid = zget(src_ + "@zrep_000002", "guid");
  auto beta_client = dial_as(beta());
  ASSERT_TRUE(beta_client);
  peer::TakeoverRequest req;
  req.set_fs(src_);
  req.set_snapshot("zrep_000000");
  auto t = beta_client->takeover(req, 120s);
  ASSERT_TRUE(t) << t.error().message;
  expect_master(dst_, 2);
  // Everything alpha held after zrep_000000 is kept on alpha, where status says.
  const std::string aside = src_ + "-kept-e2";
  // The reply says so too, in its typed fields.
  EXPECT_EQ(t->fs(), src_);
  EXPECT_EQ(t->new_master_fs(), dst_);
  EXPECT_EQ(t->epoch(), 2u);
  EXPECT_EQ(t->snapshot(), src_ + "@zrep_000000");
  EXPECT_EQ(t->bytes(), 0u);
  EXPECT_TRUE(t->has_newer_kept_in());
  EXPECT_EQ(t->newer_kept_in(), aside);
  ASSERT_TRUE(dataset_exists(aside));
  EXPECT_EQ(read_file(mnt(aside) + "/third.txt"), "3\n");
  EXPECT_EQ(read_file(mnt(aside) + "/unsnapshotted.txt"), "4\n");
  EXPECT_EQ(zget(aside + "@zrep_000002", "guid"), newer_guid);
  EXPECT_TRUE(refuses_writes(mnt(aside)));
  EXPECT_EQ(zget(aside, "zrep:master"), "-");
  EXPECT_EQ(zget(aside, "zrep:src-host"), "-");
  auto st = alpha().cli({"status", src_});
  EXPECT_NE(st.out.find(aside), std::string::npos) << st.out;
  expect_sync_flows(dst_, "b1");
}

}  // namespace
}  // namespace zrep::testbed
