// doctor (offline and through the daemon) and peers, on two real agents and zfs-fuse pools.
#include <sys/stat.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "tests/integration/testbed.h"
#include "zrep_version.h"

namespace zrep::testbed {
namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class Doctor : public PairTest {
 protected:
  // Restarts alpha with its key, certificate and ca.crt in a directory of their own, as a host
  // is set up (the testbed's PKI directory holds the CA key beside every host key).
  void give_alpha_its_own_pki(const std::string& extra_config = "") {
    own_dir_ = hosts_->work() + "/alpha-pki";
    must({"mkdir", "-m", "0700", own_dir_});
    AgentSpec spec = hosts_->alpha_spec;
    spec.extra_config += extra_config;
    for (std::string* file : {&spec.ca, &spec.cert, &spec.key}) {
      std::string to = own_dir_ + "/" + file->substr(file->rfind('/') + 1);
      must({"cp", "-p", *file, to});
      *file = to;
    }
    hosts_->restart_alpha(spec);
  }
  std::string key() const { return hosts_->alpha_spec.key; }

  std::string own_dir_;
};

TEST_F(Doctor, OfflineOnAGoodConfigIsOkAndWithoutTheDaemonOnlineSaysToStartIt) {
  // The testbed's own layout: serve started, and logged the CA key beside the host key.
  give_alpha_its_own_pki();
  EXPECT_TRUE(has(alpha().log(), "doctor: CA key: ")) << alpha().log();
  auto r = alpha().cli({"doctor", "--offline"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(has(r.out, "FAIL")) << r.out;
  EXPECT_TRUE(has(r.out, "OK   certificate chain: ")) << r.out;
  EXPECT_TRUE(has(r.out, "OK   key file mode: " + key() + " is mode 0600")) << r.out;
  EXPECT_TRUE(has(r.out, std::string("OK   zfs: ") + (openzfs() ? "openzfs" : "legacy"))) << r.out;
  auto j = nlohmann::json::parse(alpha().cli({"--json", "doctor", "--offline"}).out);
  ASSERT_TRUE(j.is_array()) << j.dump();
  for (const auto& c : j) EXPECT_EQ(c.at("level"), "ok") << c.dump();

  alpha().stop();
  auto offline = alpha().cli({"doctor"});
  EXPECT_EQ(offline.exit_code, 3) << offline.out << offline.err;
  EXPECT_TRUE(has(offline.out, "FAIL daemon: the zrep-agent daemon is not running")) << offline.out;
}

TEST_F(Doctor, OfflineFailsAKeyOthersMayReadAndACaKeyBesideTheHostKey) {
  give_alpha_its_own_pki();
  ASSERT_EQ(::chmod(key().c_str(), 0644), 0);
  auto r = alpha().cli({"doctor", "--offline"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "FAIL key file mode: " + key() + " is mode 0644")) << r.out;
  EXPECT_TRUE(has(r.out, "chmod 600 " + key())) << r.out;

  ASSERT_EQ(::chmod(key().c_str(), 0600), 0);
  ASSERT_EQ(alpha().cli({"doctor", "--offline"}).exit_code, 0);
  must({"cp", "-p", hosts_->pki_dir() + "/ca.key", own_dir_ + "/ca.key"});
  auto ca = alpha().cli({"doctor", "--offline"});
  EXPECT_EQ(ca.exit_code, 1) << ca.out << ca.err;
  EXPECT_TRUE(has(ca.out, "FAIL CA key: " + own_dir_ + "/ca.key is beside this host's key"))
      << ca.out;
}

TEST_F(Doctor, OfflineFailsAMissingFilesystemAndOneBelowMinFree) {
  const std::string missing = hosts_->src_pool() + "/missing";
  give_alpha_its_own_pki("min_free = \"100T\"\n[[filesystem]]\nname = \"" + src_ +
                         "\"\n[[filesystem]]\nname = \"" + missing + "\"\n");
  auto r = alpha().cli({"doctor", "--offline"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "OK   filesystem " + src_ + ": exists")) << r.out;
  EXPECT_TRUE(has(r.out, "FAIL filesystem " + missing + ": ")) << r.out;
  EXPECT_TRUE(has(r.out, "FAIL min_free " + src_ + ": only ")) << r.out;
  EXPECT_TRUE(has(r.out, "below min_free (109951162777600)")) << r.out;
}

TEST_F(Doctor, OnlineFailsForADestinationThePeerDoesNotAllow) {
  give_alpha_its_own_pki();
  init();
  auto good = alpha().cli({"doctor"});
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  EXPECT_TRUE(has(good.out, "OK   peer " + beta_name() + ": answers")) << good.out;
  EXPECT_TRUE(has(good.out, "OK   allowance " + beta_name() + ":" + dst_)) << good.out;
  EXPECT_TRUE(has(good.out, "OK   clock " + beta_name())) << good.out;

  AgentSpec narrow = hosts_->beta_spec;
  narrow.allowed = {hosts_->dst_pool() + "/elsewhere"};
  hosts_->restart_beta(narrow);
  auto bad = alpha().cli({"doctor"});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_TRUE(has(bad.out, "FAIL allowance " + beta_name() + ":" + dst_ + ": " + src_ +
                               " replicates to " + beta_name() + ":" + dst_))
      << bad.out;
  EXPECT_TRUE(has(bad.out, "add \"" + dst_ + "\" (or a parent) to datasets = [...]")) << bad.out;
}

// Without agents or pools: what doctor --offline says of a config that does not load, and of a
// host whose certificate names another host.
TEST(DoctorOffline, ABrokenConfigAndACertificateOfAnotherHostFail) {
  TempDir dir("zrep-doctor-");
  const std::string pki = dir.path() + "/pki", config = dir.path() + "/h.toml";
  write_file(config, "host = \"h2\"\nlisten = \n");
  auto broken = run({ZREP_AGENT_BINARY, "--config", config, "doctor", "--offline"});
  EXPECT_EQ(broken.exit_code, 1) << broken.out << broken.err;
  EXPECT_TRUE(has(broken.out, "FAIL config: ")) << broken.out;

  must({ZREP_AGENT_BINARY, "pki", "init", pki});
  must({ZREP_AGENT_BINARY, "pki", "issue", pki, "h1"});
  write_file(config, "host = \"h2\"\nlisten = \"127.0.0.1:1\"\ncontrol_socket = \"" + dir.path() +
                         "/h.sock\"\n[tls]\nca = \"" + pki + "/ca.crt\"\ncert = \"" + pki +
                         "/h1.crt\"\nkey = \"" + pki + "/h1.key\"\n");
  auto other = run({ZREP_AGENT_BINARY, "--config", config, "doctor", "--offline"});
  EXPECT_EQ(other.exit_code, 1) << other.out << other.err;
  EXPECT_TRUE(
      has(other.out, "FAIL certificate name: " + pki + "/h1.crt names h1, not this host 'h2'"))
      << other.out;
  EXPECT_TRUE(has(other.out, "OK   certificate chain: ")) << other.out;
  EXPECT_TRUE(has(other.out, "FAIL CA key: " + pki + "/ca.key is beside")) << other.out;
}

class Peers : public PairTest {};

TEST_F(Peers, EachAgentShowsTheOtherReachableWithItsVersionAndZfsDialect) {
  init();
  const std::string dialect = openzfs() ? "openzfs" : "legacy";
  for (Agent* a : {&alpha(), &beta()}) {
    auto j = a->cli_json({"peers"});
    ASSERT_TRUE(j.is_array() && j.size() == 1) << j.dump();
    const std::string other = a == &alpha() ? beta_name() : hosts_->alpha_name();
    EXPECT_EQ(j[0].at("name"), other) << j.dump();
    EXPECT_EQ(j[0].at("reachable"), true) << j.dump();
    EXPECT_EQ(j[0].at("agent_version"), kAgentVersion) << j.dump();
    EXPECT_EQ(j[0].at("zfs").at("dialect"), dialect) << j.dump();
    EXPECT_LE(std::abs(j[0].at("clock_skew_seconds").get<int64_t>()), 2) << j.dump();
    EXPECT_TRUE(j[0].contains("last_contact")) << j.dump();
  }
  auto mine = alpha().cli_json({"peers"});
  ASSERT_EQ(mine[0].at("destinations").size(), 1u) << mine.dump();
  EXPECT_EQ(mine[0]["destinations"][0].at("dest_fs"), dst_);
  EXPECT_EQ(mine[0]["destinations"][0].at("allowed"), true);
  auto text = alpha().cli({"peers"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(has(text.out, beta_name())) << text.out;
  EXPECT_TRUE(has(text.out, "yes")) << text.out;

  beta().stop();
  auto down = alpha().cli_json({"peers"});
  EXPECT_EQ(down[0].at("reachable"), false) << down.dump();
  EXPECT_TRUE(down[0].contains("error")) << down.dump();
  EXPECT_TRUE(down[0].contains("last_contact")) << "the last contact is remembered";
}

TEST_F(Peers, APeerWithoutAnAddressIsReachedOverTheLinkItKeepsOpen) {
  // alpha listens and has no address for beta; beta has no port and dials alpha.
  AgentSpec a = hosts_->alpha_spec, b = hosts_->beta_spec;
  a.peer_port = 0;
  b.port = 0;
  a.extra_config += "heartbeat_interval = 1\n";
  b.extra_config += "heartbeat_interval = 1\n";
  hosts_->restart_alpha(a);
  hosts_->restart_beta(b);
  nlohmann::json j;
  EXPECT_TRUE(eventually([&] {
    j = alpha().cli_json({"peers"});
    return j.size() == 1 && j[0].value("reachable", false);
  })) << j.dump();
  EXPECT_EQ(j[0].at("address"), "") << j.dump();
  EXPECT_EQ(j[0].at("link").at("direction"), "listens") << j.dump();
  EXPECT_EQ(j[0].at("link").at("state"), "up") << j.dump();
  EXPECT_EQ(j[0].at("agent_version"), kAgentVersion) << j.dump();
  EXPECT_TRUE(has(alpha().cli({"peers"}).out, "(reached over its link)"));
  auto theirs = beta().cli_json({"peers"});
  EXPECT_EQ(theirs[0].at("reachable"), true) << theirs.dump();
  EXPECT_EQ(theirs[0].at("link").at("direction"), "dials") << theirs.dump();
}

}  // namespace
}  // namespace zrep::testbed
