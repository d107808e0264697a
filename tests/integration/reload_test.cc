// SIGHUP: the daemon rereads its config and TLS files without a restart (agent/daemon/reload.h).
// Real agents on zfs-fuse; each test checks the daemon's pid stays the same.
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

class Reload : public PairTest {
 protected:
  void SetUp() override {
    make_hosts(PoolSizes{});
    write_file(mnt(src_) + "/a.txt", "first\n");
    init();
  }

  // Rewrites the agent's config from `spec` (an Agent object writes its file when it is made,
  // and one never started leaves the running daemon alone), then sends it SIGHUP.
  void reload(Agent& agent, const AgentSpec& spec) {
    { Agent writer(hosts_->work(), spec); }
    hangup(agent);
  }
  static void hangup(Agent& agent) {
    const pid_t pid = agent.pid();
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(pid, SIGHUP), 0);
    // The reload runs on the io thread at once; give it a moment before looking.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ASSERT_TRUE(agent.running()) << "SIGHUP ended the daemon";
    ASSERT_EQ(agent.pid(), pid);
  }
  // Polls until the destination's files equal the source's.
  bool converges(int seconds) {
    return eventually([&] { return tree_digest(mnt(src_)) == tree_digest(mnt(dst_)); }, seconds);
  }
  ProcessOutput sync() { return alpha().cli({"sync", src_}, 120); }
};

TEST_F(Reload, AScheduleAddedByAReloadTakesEffect) {
  const pid_t pid = alpha().pid();
  AgentSpec spec = hosts_->alpha_spec;
  spec.extra_config = "sync_interval = 1\n";
  reload(alpha(), spec);
  write_file(mnt(src_) + "/b.txt", "written after the reload, never synced by hand\n");
  EXPECT_TRUE(converges(30)) << "the reloaded sync_interval did not start scheduled syncs";
  EXPECT_EQ(alpha().pid(), pid);
  EXPECT_EQ(zget(snapshots(src_).back(), "guid"), zget(snapshots(dst_).back(), "guid"));
}

TEST_F(Reload, APeerRemovedByAReloadLosesAccessAndGetsItBack) {
  AgentSpec without_alpha = hosts_->beta_spec;
  without_alpha.peer = "someone-else";
  reload(beta(), without_alpha);
  const auto before = snapshots(dst_);
  write_file(mnt(src_) + "/b.txt", "must not arrive\n");
  ProcessOutput refused = sync();
  EXPECT_NE(refused.exit_code, 0) << "beta served a peer it no longer has: " << refused.out;
  EXPECT_EQ(snapshots(dst_), before) << "something reached beta from a removed peer";

  // Its datasets no longer cover the destination: refused by the authorization of requests.
  AgentSpec narrowed = hosts_->beta_spec;
  narrowed.allowed = {hosts_->dst_pool() + "/elsewhere"};
  reload(beta(), narrowed);
  ProcessOutput denied = sync();
  EXPECT_NE(denied.exit_code, 0) << denied.out;
  EXPECT_NE((denied.out + denied.err).find("may not access"), std::string::npos)
      << denied.out << denied.err;
  EXPECT_EQ(snapshots(dst_), before);

  reload(beta(), hosts_->beta_spec);
  ProcessOutput again = sync();
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  expect_same_data();
  expect_newest_snapshot_same();
  beta().stop();  // the log is complete once the daemon stopped
  const std::string log = beta().log();
  // The TLS handshake refused the removed peer's certificate (alpha may see only a hang-up).
  EXPECT_NE(log.find("which is not an allowed peer"), std::string::npos) << log;
  EXPECT_NE(log.find("peers removed: " + hosts_->alpha_name()), std::string::npos) << log;
}

// Links (agent/rpc/link.h): both hosts listen and neither has the other's address, so nothing
// connects; a reload that gives beta alpha's address starts beta's link keeper, and one that
// removes alpha closes the link.
TEST_F(Reload, AReloadStartsAndEndsALink) {
  AgentSpec a = hosts_->alpha_spec, b = hosts_->beta_spec;
  a.peer_port = b.peer_port = 0;
  a.extra_config = b.extra_config = "heartbeat_interval = 1\n";
  hosts_->restart_alpha(a);
  hosts_->restart_beta(b);
  write_file(mnt(src_) + "/b.txt", "over the link\n");
  ProcessOutput unlinked = sync();
  EXPECT_NE(unlinked.exit_code, 0) << unlinked.out;
  EXPECT_NE(unlinked.err.find("not connected"), std::string::npos) << unlinked.err;

  AgentSpec dials = b;
  dials.peer_port = a.port;
  reload(beta(), dials);
  ProcessOutput linked;
  EXPECT_TRUE(eventually([&] { return (linked = sync()).exit_code == 0; }, 20))
      << linked.out << linked.err;
  expect_same_data();

  AgentSpec without_alpha = b;
  without_alpha.peer = "someone-else";
  reload(beta(), without_alpha);
  write_file(mnt(src_) + "/c.txt", "must not arrive\n");
  ProcessOutput cut;
  EXPECT_TRUE(eventually([&] { return (cut = sync()).exit_code != 0; }, 10)) << cut.out;
  EXPECT_EQ(read_file(mnt(dst_) + "/c.txt"), "");
}

// A sync held while its receive request is under way: beta pauses at its progress reports past
// 16 MiB (on loopback the stream is fast, so this is often the last one, after the data and
// before the reply); the session and its request are open through the reload.
class ReloadMidTransfer : public Reload {
 protected:
  void SetUp() override {
    Reload::SetUp();
    beta().stop();
    beta().set_env({"ZREP_PAUSE_AT=received-16m:8"});
    beta().start();
    write_file(mnt(src_) + "/big.bin", test_data(18u << 20, 5));
  }
  // Starts the sync and returns once beta's `zfs recv` runs (the transfer is under way).
  std::future<ProcessOutput> start_held_sync() {
    auto running = std::async(std::launch::async, [this] { return sync(); });
    EXPECT_TRUE(eventually([&] { return !receives_into(dst_).empty(); }, 60))
        << "the transfer did not start";
    std::this_thread::sleep_for(std::chrono::seconds(1));
    return running;
  }
};

TEST_F(ReloadMidTransfer, ATransferRunningDuringAReloadCompletes) {
  auto running = start_held_sync();
  AgentSpec changed = hosts_->beta_spec;  // still allows alpha its destination
  changed.allowed.push_back(hosts_->dst_pool() + "/more");
  changed.extra_config = "max_unsent = 3\nwarn_lag = 7200\n";
  reload(beta(), changed);
  EXPECT_EQ(running.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the sync ended before the reload: the test proves nothing";
  ProcessOutput done = running.get();
  EXPECT_EQ(done.exit_code, 0) << done.out << done.err;
  expect_same_data();
  expect_newest_snapshot_same();
}

TEST_F(ReloadMidTransfer, ARemovedPeerLosesItsRunningTransfer) {
  auto running = start_held_sync();
  AgentSpec without_alpha = hosts_->beta_spec;
  without_alpha.peer = "someone-else";
  ASSERT_EQ(running.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the sync ended before the reload: the test proves nothing";
  const auto reloaded = std::chrono::steady_clock::now();
  reload(beta(), without_alpha);
  ProcessOutput cut = running.get();
  EXPECT_NE(cut.exit_code, 0) << "a removed peer's session stayed open: " << cut.out;
  // Cut by the reload, not ended by the pause (8 s) running out.
  EXPECT_LT(std::chrono::steady_clock::now() - reloaded, std::chrono::seconds(5));
  beta().stop();
  EXPECT_NE(beta().log().find("closed 1 session(s) of peers no longer configured"),
            std::string::npos)
      << beta().log();
}

TEST_F(Reload, ABrokenConfigChangesNothing) {
  const pid_t pid = beta().pid();
  write_file(beta().config_path(), "host = \"unterminated\n[[[garbage\n");
  hangup(beta());
  // The CLI reads the config for the socket's path: give it the socket.
  ProcessOutput st = run({ZREP_AGENT_BINARY, "--socket", beta().socket_path(), "status"});
  EXPECT_TRUE(st.exit_code == 0 || st.exit_code == 4) << st.out << st.err;
  write_file(mnt(src_) + "/b.txt", "synced with the old settings\n");
  ProcessOutput r = sync();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_same_data();
  // A config that parses but names a key file that is not there: nothing changes either.
  AgentSpec missing_key = hosts_->beta_spec;
  missing_key.key = hosts_->pki_dir() + "/no-such.key";
  missing_key.allowed = {hosts_->dst_pool() + "/elsewhere"};
  reload(beta(), missing_key);
  write_file(mnt(src_) + "/c.txt", "still synced with the old settings\n");
  r = sync();
  EXPECT_EQ(r.exit_code, 0) << "a reload that failed changed the datasets: " << r.out << r.err;
  expect_same_data();
  EXPECT_EQ(beta().pid(), pid);
  beta().stop();  // the log is complete once the daemon stopped
  const std::string log = beta().log();
  EXPECT_NE(log.find("reload failed"), std::string::npos) << log;
  EXPECT_NE(log.find("line 1"), std::string::npos) << "the parse error is not in the log";
  EXPECT_NE(log.find("no-such.key"), std::string::npos) << "the TLS error is not in the log";
}

// beta's certificate is re-issued into new files and its old one revoked: alpha (with the CRL)
// refuses beta until a reload points beta at the new files.
TEST_F(Reload, ReissuedCertificateFilesAreUsedAfterAReload) {
  namespace fs = std::filesystem;
  const std::string pki = hosts_->pki_dir();
  const std::string b = pki + "/" + beta_name();
  must({ZREP_AGENT_BINARY, "pki", "issue", pki, "retired-host"});
  must({ZREP_AGENT_BINARY, "pki", "revoke", pki, "retired-host"});
  AgentSpec with_crl = hosts_->alpha_spec;
  with_crl.tls_extra = "crl = \"" + pki + "/crl.pem\"\n";
  hosts_->restart_alpha(with_crl);

  fs::rename(b + ".crt", b + "-old.crt");
  fs::rename(b + ".key", b + "-old.key");
  must({ZREP_AGENT_BINARY, "pki", "issue", pki, beta_name()});
  fs::rename(b + ".crt", b + "-new.crt");
  fs::rename(b + ".key", b + "-new.key");
  fs::rename(b + "-old.crt", b + ".crt");
  fs::rename(b + "-old.key", b + ".key");
  must({ZREP_AGENT_BINARY, "pki", "revoke", pki, beta_name()});  // the old one, still in use

  write_file(mnt(src_) + "/b.txt", "after the rotation\n");
  ProcessOutput refused = sync();
  EXPECT_NE(refused.exit_code, 0) << "beta's revoked certificate was accepted: " << refused.out;
  EXPECT_NE((refused.out + refused.err).find("revoked"), std::string::npos)
      << refused.out << refused.err;

  AgentSpec rotated = hosts_->beta_spec;
  rotated.cert = b + "-new.crt";
  rotated.key = b + "-new.key";
  reload(beta(), rotated);
  ProcessOutput r = sync();
  EXPECT_EQ(r.exit_code, 0) << "the new certificate is not in use: " << r.out << r.err;
  expect_same_data();
  expect_newest_snapshot_same();
}

}  // namespace
}  // namespace zrep::testbed
