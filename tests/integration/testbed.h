// The two-host testbed for integration tests: real zfs-fuse pools on sparse files, a real CA and
// host certificates made by `zrep-agent pki`, and two real `zrep-agent serve` processes
// ("alpha" and "beta") on loopback, each with its own pool, port, config and control socket.
//
// Everything a test makes is destroyed by the destructors, also when the test fails.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/subprocess.h"

namespace zrep::testbed {

// Starts zfs-fuse unless a ZFS daemon answers (deploy/zfs-testbed.sh start); aborts the test
// binary with a message when it cannot.
void ensure_zfs();

// Runs a program; fails the current test when it cannot be started.
ProcessOutput run(const std::vector<std::string>& argv, int timeout_s = 120);
// Runs and asserts exit 0; returns stdout.
std::string must(const std::vector<std::string>& argv, int timeout_s = 120);

std::string zget(const std::string& dataset, const std::string& prop);  // "-" when unset
std::vector<std::string> snapshots(const std::string& fs);              // names, oldest first
bool dataset_exists(const std::string& dataset);
// True when the ZFS here is OpenZFS (`zfs version` answers), false on zfs-fuse.
bool openzfs();
// True when creating a file in `dir` fails with EROFS. (zfs-fuse reads readonly back as
// "off (temporary)" whatever is set, so tests check the behaviour.)
bool refuses_writes(const std::string& dir);

// A directory under /var/tmp removed (recursively) on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class Pool {
 public:
  Pool(const std::string& prefix, const std::string& dir, const std::string& size = "1G");
  ~Pool();
  const std::string& name() const { return name_; }

 private:
  std::string name_, dir_;
};

// Files under `root` (relative path -> SHA-256 of the contents), for comparing trees.
std::map<std::string, std::string> tree_digest(const std::string& root);
void write_file(const std::string& path, const std::string& contents);
std::string read_file(const std::string& path);  // "" when it cannot be read
// `bytes` of pseudo-random (seeded) data, half of it compressible text.
std::string test_data(size_t bytes, uint32_t seed);

int free_port();
// A plain TCP connection to 127.0.0.1:port (blocking), or -1.
int tcp_to(int port);

// Processes whose argv is `zfs recv|receive ... TARGET` (a receive still running into TARGET).
std::vector<pid_t> receives_into(const std::string& target);
// Waits (bounded) until no `zfs recv` into `target` runs any more: a receive orphaned by a killed
// agent ends by itself when it sees the end of its stream. True when none is left.
bool wait_receives_gone(const std::string& target,
                        std::chrono::seconds limit = std::chrono::seconds(60));

// The io_timeout of the test agents' configs: 30 s, or $ZREP_TEST_IO_TIMEOUT.
int test_io_timeout();

// "handshake_timeout = N\n" for the test agents' configs when $ZREP_TEST_HANDSHAKE_TIMEOUT
// is set (the OpenZFS lane's emulated guest), else "".
std::string test_handshake_timeout_line();

// Polls every 100 ms until `cond` holds; false when it still does not after `timeout_s`.
bool eventually(const std::function<bool()>& cond, int timeout_s = 30);

struct AgentSpec {
  std::string host;
  int port = 0;
  std::string peer;
  int peer_port = 0;                 // 0: the peer entry has no address
  std::vector<std::string> allowed;  // datasets here the peer may touch
  std::string ca, cert, key;
  std::string extra_config;    // top-level TOML lines (schedule settings, [[filesystem]] last)
  std::string tls_extra = {};  // lines of its [tls] table besides ca, cert, key (e.g. crl)
};

class Agent {
 public:
  Agent(const std::string& workdir, const AgentSpec& spec);
  ~Agent();
  void start();  // asserts the daemon comes up
  // Environment for the next start(), e.g. {"ZREP_FAULT_AT=prepared"} (agent/fault/fault.h); {}
  // clears it.
  void set_env(std::vector<std::string> env) { env_ = std::move(env); }
  // Waits up to `timeout_s` for the daemon to exit by itself (a fault point); reaps it and
  // keeps its log. True when it exited.
  bool wait_exit(int timeout_s);
  void stop();  // SIGTERM, wait; prints its log when the test failed
  const std::string& config_path() const { return config_path_; }
  const std::string& socket_path() const { return socket_path_; }
  // Runs `zrep-agent --config CONFIG args...`.
  ProcessOutput cli(const std::vector<std::string>& args, int timeout_s = 300) const;
  // Runs with --json, asserts exit 0, returns the parsed result.
  nlohmann::json cli_json(const std::vector<std::string>& args) const;
  std::string log() const;
  // SIGKILL (no chance to clean up), then reap; the log is kept like stop()'s. start() may
  // follow to bring the agent back with the same config.
  void kill9();
  // The daemon's process id; -1 when it is not started.
  pid_t pid() const;
  // True while the daemon process exists and has not exited (a zombie counts as exited).
  bool running() const;

 private:
  std::string config_path_, socket_path_, log_path_;
  std::vector<std::string> env_;
  std::optional<Child> child_;
};

// Sizes of the two pools (zfs-testbed.sh mkpool SIZE: "1G", "128M", ...).
struct PoolSizes {
  std::string src = "1G";
  std::string dst = "1G";
};

// Two hosts: alpha (source pool) and beta (destination pool), one CA.
class TwoHosts {
 public:
  TwoHosts();
  explicit TwoHosts(const PoolSizes& sizes);
  ~TwoHosts();
  std::string src_pool() const { return src_->name(); }
  std::string dst_pool() const { return dst_->name(); }
  std::string backup_root() const { return dst_->name() + "/backup"; }  // beta allows this
  const std::string& pki_dir() const { return pki_dir_; }
  const std::string& work() const { return dir_->path(); }
  // The hosts' names ("alpha-PID-N", "beta-PID-N"): as in configs, certificates and properties.
  const std::string& alpha_name() const { return alpha_name_; }
  const std::string& beta_name() const { return beta_name_; }
  Agent& alpha() { return *alpha_; }
  Agent& beta() { return *beta_; }
  AgentSpec alpha_spec, beta_spec;
  // Restarts beta with another spec (e.g. another certificate), and `env` (Agent::set_env).
  void restart_beta(const AgentSpec& spec, std::vector<std::string> env = {});
  void restart_alpha(const AgentSpec& spec);

 private:
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Pool> src_, dst_;
  std::string pki_dir_;
  std::string alpha_name_, beta_name_;
  std::unique_ptr<Agent> alpha_, beta_;
};

// A test fixture with two hosts and the pair of filesystems most tests replicate: src_ =
// SRC_POOL/data (created, empty) and dst_ = BACKUP_ROOT/data (not created). A fixture that
// needs more overrides SetUp(), calls make_hosts() first, then adds its own data.
class PairTest : public ::testing::Test {
 protected:
  void SetUp() override { make_hosts(PoolSizes{}); }
  void TearDown() override { hosts_.reset(); }

  // Makes hosts_ with pools of `sizes`, names src_ and dst_, creates src_.
  void make_hosts(const PoolSizes& sizes);

  // Where a dataset is mounted.
  static std::string mnt(const std::string& dataset) { return "/" + dataset; }
  Agent& alpha() { return hosts_->alpha(); }
  Agent& beta() { return hosts_->beta(); }
  const std::string& beta_name() const { return hosts_->beta_name(); }

  // `init src_ BETA dst_` on alpha; asserts it exits 0.
  void init();
  // The files under dst_ are those under src_ (and there are some).
  void expect_same_data();
  // The newest snapshots of src_ and dst_ are one snapshot (GUID), marked sent on both sides.
  void expect_newest_snapshot_same();

  std::unique_ptr<TwoHosts> hosts_;
  std::string src_, dst_;
};

}  // namespace zrep::testbed
