// Firewall-friendly deployments: only one host listens, and its config has no address for the
// other, which does not listen at all. So nothing can dial the host without a port: every
// operation, in both directions, has to go over the link the dialling host keeps open
// (agent/rpc/link.h). Asserted on what arrives: files, GUIDs, properties.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/integration/failover_fixture.h"

namespace zrep::testbed {
namespace {

class Link : public Failover {
 protected:
  // Restarts both agents so that only `listener` has a port, and it has no address for the
  // other; heartbeats every second. `extra` goes into the listener's config.
  void only_one_listens(bool alpha_listens, const std::string& extra = "") {
    AgentSpec a = hosts_->alpha_spec, b = hosts_->beta_spec;
    AgentSpec& listener = alpha_listens ? a : b;
    AgentSpec& dialler = alpha_listens ? b : a;
    listener.peer_port = 0;
    dialler.port = 0;
    dialler.peer_port = listener.port;
    listener.extra_config += "heartbeat_interval = 1\n" + extra;
    dialler.extra_config += "heartbeat_interval = 1\n";
    // The listener first: the dialler must meet the new config (it has no address for it).
    if (alpha_listens) {
      hosts_->restart_alpha(a);
      hosts_->restart_beta(b);
    } else {
      hosts_->restart_beta(b);
      hosts_->restart_alpha(a);
    }
  }

  // Runs `args` on `agent` until it succeeds: the first command may come before the link is up.
  static ProcessOutput until_linked(Agent& agent, const std::vector<std::string>& args) {
    ProcessOutput r;
    eventually(
        [&] {
          r = agent.cli(args);
          return r.exit_code == 0 || r.err.find("not connected") == std::string::npos;
        },
        20);
    return r;
  }

  static std::string snap_part(const std::string& snapshot) {
    return snapshot.substr(snapshot.find('@') + 1);
  }

  static std::string link_state(Agent& agent, const std::string& fs) {
    auto st = agent.cli_json({"status", fs});
    if (st.size() != 1 || !st[0].contains("link")) return "none: " + st.dump();
    return st[0]["link"].value("direction", std::string()) + " " +
           st[0]["link"].value("state", std::string());
  }
};

TEST_F(Link, OnlyTheMasterListensAndTheStandbyDialsIn) {
  only_one_listens(/*alpha_listens=*/true);
  // init and sync run on the master, which cannot dial: they go over the standby's link.
  auto r = until_linked(alpha(), {"init", src_, beta_name(), dst_});
  ASSERT_EQ(r.exit_code, 0) << text(r);
  write_file(mnt(src_) + "/after-init.txt", "pushed over the standby's link\n");
  ASSERT_EQ(alpha().cli({"sync", src_}).exit_code, 0);
  EXPECT_EQ(read_file(mnt(dst_) + "/after-init.txt"), "pushed over the standby's link\n");
  expect_same_data();
  expect_newest_snapshot_same();
  EXPECT_EQ(link_state(alpha(), src_), "listens up");
  EXPECT_EQ(link_state(beta(), dst_), "dials up");

  // Failover run on the master: every step on the standby goes over the link.
  write_file(mnt(src_) + "/last-minute.txt", "written just before the failover\n");
  r = alpha().cli({"failover", src_});
  ASSERT_EQ(r.exit_code, 0) << text(r);
  expect_master(dst_, 2);
  EXPECT_EQ(read_file(mnt(dst_) + "/last-minute.txt"), "written just before the failover\n");
  expect_sync_flows(dst_, "b1");  // the new master dials

  // And back, run on alpha, now the standby, which cannot dial its master: it asks over the
  // link, and beta coordinates by dialling alpha.
  r = alpha().cli({"failover", src_});
  ASSERT_EQ(r.exit_code, 0) << text(r);
  expect_master(src_, 3);
  expect_sync_flows(src_, "a1");

  // The dialler goes away: the master says why it cannot sync, and nothing piles up.
  beta().stop();
  write_file(mnt(src_) + "/while-down.txt", "written while the standby was down\n");
  r = alpha().cli({"sync", src_});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is not connected"), std::string::npos) << text(r);
  EXPECT_EQ(link_state(alpha(), src_), "listens down");
  // It comes back and dials in again; the next sync catches up incrementally.
  beta().start();
  r = until_linked(alpha(), {"sync", "--json", src_});
  ASSERT_EQ(r.exit_code, 0) << text(r);
  EXPECT_EQ(read_file(mnt(dst_) + "/while-down.txt"), "written while the standby was down\n");
  expect_same_data();
  expect_newest_snapshot_same();
}

TEST_F(Link, OnlyTheStandbyListensAndTheMasterDialsOut) {
  only_one_listens(/*alpha_listens=*/false, "sync_interval = 2\n");
  init();  // alpha dials: an ordinary push
  expect_same_data();
  // Failover run on the standby, which cannot dial its master: it asks over the master's link.
  write_file(mnt(src_) + "/last-minute.txt", "unsent\n");
  auto r = until_linked(beta(), {"failover", dst_});
  ASSERT_EQ(r.exit_code, 0) << text(r);
  expect_master(dst_, 2);
  EXPECT_EQ(read_file(mnt(dst_) + "/last-minute.txt"), "unsent\n");
  EXPECT_EQ(link_state(beta(), dst_), "listens up");

  // beta now masters dst_ and cannot dial alpha: its scheduler replicates every 2 s over the
  // link alone, no command run.
  write_file(mnt(dst_) + "/scheduled.txt", "sent by the scheduler over the link\n");
  const std::string before = snap_part(snapshots(dst_).back());
  // Waits for a snapshot made after the write to arrive (not for the file: zfs-fuse's kernel
  // side would keep caching a lookup that failed).
  ASSERT_TRUE(eventually(
      [&] {
        auto s = snapshots(src_);
        return !s.empty() && snap_part(s.back()) > before &&
               zget(s.back(), "guid") == zget(dst_ + "@" + snap_part(s.back()), "guid");
      },
      60));
  EXPECT_EQ(read_file(mnt(src_) + "/scheduled.txt"), "sent by the scheduler over the link\n");
  expect_same_data();
}

TEST_F(Link, ALinkOfARevokedCertificateIsClosedWithoutARestart) {
  // alpha listens and checks a CRL (which lists some other host to begin with); beta dials in
  // and keeps a link open.
  const std::string& pki = hosts_->pki_dir();
  must({ZREP_AGENT_BINARY, "pki", "issue", pki, "retired-host"});
  must({ZREP_AGENT_BINARY, "pki", "revoke", pki, "retired-host"});
  hosts_->alpha_spec.tls_extra = "crl = \"" + pki + "/crl.pem\"\n";
  only_one_listens(/*alpha_listens=*/true);
  auto r = until_linked(alpha(), {"init", src_, beta_name(), dst_});
  ASSERT_EQ(r.exit_code, 0) << text(r);
  EXPECT_EQ(link_state(alpha(), src_), "listens up");
  const auto before = snapshots(dst_);

  // beta's key is stolen: once crl.pem lists it, alpha closes the link that was open already
  // (no handshake happens on it), and beta's attempts to dial back in are refused.
  must({ZREP_AGENT_BINARY, "pki", "revoke", pki, beta_name()});
  EXPECT_TRUE(eventually([&] { return link_state(alpha(), src_) == "listens down"; }, 30))
      << "alpha kept the revoked peer's link: " << link_state(alpha(), src_);
  std::this_thread::sleep_for(std::chrono::seconds(3));  // beta has dialled again meanwhile
  EXPECT_EQ(link_state(alpha(), src_), "listens down");
  write_file(mnt(src_) + "/after-revocation.txt", "must not reach beta\n");
  r = alpha().cli({"sync", src_}, 60);
  EXPECT_NE(r.exit_code, 0) << text(r);
  EXPECT_EQ(snapshots(dst_), before) << "nothing reached the revoked peer";
}

}  // namespace
}  // namespace zrep::testbed
