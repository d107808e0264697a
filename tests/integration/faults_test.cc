// Faults: bad input gets a clear error and loses nothing.
//
// Two real agents on real zfs-fuse pools, over real TLS on loopback, facing a killed peer, a full
// pool, garbage on the peer port, a peer of another protocol version, concurrent commands.
// Every assertion is on data (file digests, snapshot GUIDs, dataset existence, properties,
// process liveness) or on what the command-line tool prints, never on log lines.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "agent/config/config.h"
#include "agent/rpc/net.h"
#include "agent/rpc/peer_session.h"
#include "crypto/tls.h"
#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t kMiB = size_t{1} << 20;

// `bytes` of incompressible (uniformly random, seeded) data.
std::string random_data(size_t bytes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(bytes, '\0');
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t v = rng();
    std::memcpy(s.data() + i, &v, 8);
  }
  for (; i < bytes; ++i) s[i] = static_cast<char>(rng() & 0xff);
  return s;
}

// Bytes the process has read through read(2)-like calls (its sockets included): /proc/PID/io.
uint64_t read_chars(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("rchar:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

bool process_alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

bool send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads until the peer closes the connection; true when it did within `limit` (what it sent
// before, e.g. a TLS alert, is ignored).
bool closed_by_peer_within(int fd, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  char buf[4096];
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 1)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return true;
  }
  return false;
}

// A command run with stdout on a pipe and stderr on a pseudo-terminal, the way a user at a
// terminal who redirects stdout (`zrep-agent --json init ... > result.json`) runs it.
struct TtyRun {
  int exit_code = -1;
  std::string out;  // stdout
  std::string tty;  // what was written to the terminal (stderr)
  bool timed_out = false;
};

TtyRun run_with_tty_stderr(const std::vector<std::string>& argv, std::chrono::seconds limit) {
  TtyRun result;
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
    ADD_FAILURE() << "cannot make a pseudo-terminal: " << std::strerror(errno);
    if (master >= 0) ::close(master);
    return result;
  }
  std::string slave_path = ::ptsname(master);
  // Held open by us too, so reading the master never fails before we have read everything.
  int slave = ::open(slave_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  int out_pipe[2];
  if (slave < 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "cannot open the terminal or a pipe: " << std::strerror(errno);
    ::close(master);
    if (slave >= 0) ::close(slave);
    return result;
  }
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::setsid();
    ::dup2(devnull, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(slave, 2);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::close(devnull);
  ::close(out_pipe[1]);
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    ::close(out_pipe[0]);
    ::close(master);
    ::close(slave);
    return result;
  }
  ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
  auto deadline = Clock::now() + limit;
  char buf[65536];
  bool out_open = true;
  while (out_open) {
    if (Clock::now() > deadline) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd p[2] = {{out_pipe[0], POLLIN, 0}, {master, POLLIN, 0}};
    if (::poll(p, 2, 200) < 0 && errno != EINTR) break;
    if (p[0].revents != 0) {
      ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
      if (n > 0) {
        result.out.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        out_open = false;
      }
    }
    if (p[1].revents & POLLIN) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n > 0) result.tty.append(buf, static_cast<size_t>(n));
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  for (;;) {
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;
    result.tty.append(buf, static_cast<size_t>(n));
  }
  ::close(out_pipe[0]);
  ::close(master);
  ::close(slave);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.exit_code = 128 + WTERMSIG(status);
  return result;
}

class Faults : public PairTest {
 protected:
  void SetUp() override {
    make_hosts(pool_sizes());
    write_file(mnt(src_) + "/small.txt", "hello from alpha\n");
    write_file(mnt(src_) + "/dir/notes.txt", test_data(200000, 2));
  }
  virtual PoolSizes pool_sizes() const { return PoolSizes{}; }

  // ~336 MB of test_data (half of it compressible) in 6 files under `dir`.
  void write_big(const std::string& dir) {
    for (uint32_t i = 0; i < 6; ++i) {
      write_file(dir + "/big" + std::to_string(i) + ".bin", test_data(56 * kMiB, 100 + i));
    }
  }

  // The command-line tool of `agent` in the background (stdout discarded, stderr kept).
  Child spawn_cli(const Agent& agent, const std::vector<std::string>& args) {
    std::vector<std::string> argv{ZREP_AGENT_BINARY, "--config", agent.config_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto child = Child::spawn(argv, StdioMode::kNull, StdioMode::kNull);
    EXPECT_TRUE(child) << child.error().message;
    return child ? std::move(*child) : Child();
  }

  // Waits until alpha has read `more` bytes of `zfs send` output since `base` (its pipe reads
  // count in /proc/PID/io; its TLS socket reads do not), while `cli` still runs: the transfer is
  // in the middle. False when the command ended first, or after two minutes.
  bool wait_mid_transfer(uint64_t base, uint64_t more, const Child& cli) {
    auto deadline = Clock::now() + 120s;
    while (Clock::now() < deadline) {
      if (read_chars(alpha().pid()) >= base + more) return process_alive(cli.pid());
      if (!process_alive(cli.pid())) return false;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  // Why a command was not caught in the middle of its transfer: what it said when it ended.
  static std::string not_caught(Child& cli) {
    ProcessOutput out = cli.wait(120s);
    return "the command was not caught in the middle of its transfer; it ended with exit code " +
           std::to_string(out.exit_code) + (out.timed_out ? " (killed: timed out)" : "") +
           ", saying: " + out.err;
  }

  // No half-received destination: it does not exist, or (zfs-fuse may leave the empty
  // filesystem of a discarded full receive) it holds no snapshot.
  void expect_no_partial_destination() {
    EXPECT_TRUE(wait_receives_gone(dst_)) << "a 'zfs recv' into " << dst_ << " still runs";
    if (dataset_exists(dst_)) {
      EXPECT_TRUE(snapshots(dst_).empty()) << dst_ << " holds a snapshot of a broken init";
    }
  }
};

// 1. The receiving agent dies (SIGKILL) in the middle of a large init.
TEST_F(Faults, ReceiverKilledMidInitFailsPromptlyAndLosesNothing) {
  write_big(mnt(src_));
  const uint64_t base = read_chars(alpha().pid());
  Child cli = spawn_cli(alpha(), {"init", src_, beta_name(), dst_});
  ASSERT_TRUE(wait_mid_transfer(base, 32 * kMiB, cli)) << not_caught(cli);

  beta().kill9();
  auto killed_at = Clock::now();
  ProcessOutput r = cli.wait(90s);
  auto took = Clock::now() - killed_at;
  EXPECT_FALSE(r.timed_out) << "init still running 90 s after the peer died";
  EXPECT_LT(took, 60s) << "init took "
                       << std::chrono::duration_cast<std::chrono::seconds>(took).count()
                       << " s to notice that the peer died";
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(beta_name()), std::string::npos)
      << "the error does not name the peer: " << r.err;

  expect_no_partial_destination();
  EXPECT_EQ(zget(src_, "zrep:master"), "-") << "init committed without a verified receive";
  EXPECT_EQ(zget(src_, "zrep:dest-fs"), "-");

  AgentSpec spec = hosts_->beta_spec;
  hosts_->restart_beta(spec);
  init();
  expect_same_data();
  expect_newest_snapshot_same();
  EXPECT_EQ(zget(src_, "zrep:master"), "yes");
}

// 2. The sending agent dies (SIGKILL) in the middle of a large init.
TEST_F(Faults, SenderKilledMidInitLeavesNoPartialDestination) {
  write_big(mnt(src_));
  const uint64_t base = read_chars(alpha().pid());
  Child cli = spawn_cli(alpha(), {"init", src_, beta_name(), dst_});
  ASSERT_TRUE(wait_mid_transfer(base, 32 * kMiB, cli)) << not_caught(cli);

  alpha().kill9();
  ProcessOutput r = cli.wait(60s);
  EXPECT_FALSE(r.timed_out) << "the init command hung after its daemon died";
  EXPECT_NE(r.exit_code, 0) << r.err;

  expect_no_partial_destination();
  EXPECT_TRUE(beta().running()) << "beta died when its sending peer was killed";
  EXPECT_EQ(zget(src_, "zrep:master"), "-");

  alpha().start();
  auto status = beta().cli({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  init();
  expect_same_data();
  expect_newest_snapshot_same();
  EXPECT_TRUE(beta().running());
}

// 3. Garbage on the peer port, from strangers and from an authenticated peer.
TEST_F(Faults, GarbageOnThePeerPortIsRefusedAndTheAgentSurvives) {
  const int port = hosts_->beta_spec.port;
  // An idle stranger holding a connection open must not block anyone else.
  struct ClosedAtExit {
    int fd;
    ~ClosedAtExit() {
      if (fd >= 0) ::close(fd);
    }
  } idle{tcp_to(port)};
  ASSERT_GE(idle.fd, 0);

  std::string frame_5g;  // a frame header announcing a 5 GB payload (64-bit length), then junk
  frame_5g += std::string("\x5a\x01\x00\x00", 4);
  for (int shift = 56; shift >= 0; shift -= 8)
    frame_5g.push_back(static_cast<char>((uint64_t{5} << 30 >> shift) & 0xff));
  frame_5g += random_data(4096, 9);
  std::string tls_record_5g("\x16\x03\x03\xff\xff", 5);  // a TLS record claiming 64 KiB
  tls_record_5g += std::string("\x01\x40\x00\x00", 4);   // a ClientHello claiming 4 MiB
  const std::vector<std::pair<std::string, std::string>> garbage = {
      {"random bytes", random_data(256 * 1024, 7)},
      {"an HTTP request", "GET / HTTP/1.1\r\nHost: beta\r\nConnection: keep-alive\r\n\r\n"},
      {"a 5 GB frame header", frame_5g},
      {"an oversized TLS record", tls_record_5g},
  };
  for (const auto& [what, bytes] : garbage) {
    int fd = tcp_to(port);
    ASSERT_GE(fd, 0) << "beta stopped accepting before " << what;
    send_all(fd, bytes);  // beta may close before it has read everything
    EXPECT_TRUE(closed_by_peer_within(fd, 30s)) << "beta kept a connection open after " << what;
    ::close(fd);
    ASSERT_TRUE(beta().running()) << "beta died on " << what;
  }
  // A burst of strangers at once.
  std::vector<int> burst;
  for (int i = 0; i < 40; ++i) {
    int fd = tcp_to(port);
    if (fd >= 0) {
      send_all(fd, random_data(1024, 1000 + i));
      burst.push_back(fd);
    }
  }
  EXPECT_EQ(burst.size(), 40u);
  for (int fd : burst) ::close(fd);
  ASSERT_TRUE(beta().running());

  // An authenticated peer (alpha's certificate, right CA) speaking protocol version 99.
  const std::string pki = hosts_->pki_dir();
  const std::string me = hosts_->alpha_name();
  std::ostringstream toml;
  toml << "host = \"" << me << "\"\n"
       << "control_socket = \"" << hosts_->work() << "/faults-client.sock\"\n"
       << "connect_timeout = 10\nio_timeout = 20\n"
       << "[tls]\nca = \"" << pki << "/ca.crt\"\ncert = \"" << pki << "/" << me
       << ".crt\"\nkey = \"" << pki << "/" << me << ".key\"\n"
       << "[[peer]]\nname = \"" << beta_name() << "\"\naddress = \"127.0.0.1:" << port
       << "\"\ndatasets = []\n";
  auto config = parse_config(toml.str(), "faults_test");
  ASSERT_TRUE(config) << config.error().message;
  auto tls = TlsContext::create({config->ca_file, config->cert_file, config->key_file});
  ASSERT_TRUE(tls) << tls.error().message;
  const std::optional<PeerConfig> peer = config->find_peer(beta_name());
  ASSERT_TRUE(peer);
  ZfsFeatures features;
  features.version = "faults-test";

  peer::Hello future = make_hello(*config, features, "faults-test");
  future.set_protocol_version(99);
  // The burst's handshakes end on beta's threads a little after this side closed them; until
  // then a new connection from this address may meet max_handshakes_per_address (closed at
  // once, before TLS). Dial until beta answers the Hello.
  auto refused = dial_peer(*config, **tls, *peer, future);
  for (int i = 0; i < 100 && !refused && refused.error().code != ErrorCode::kProtocol; ++i) {
    std::this_thread::sleep_for(100ms);
    refused = dial_peer(*config, **tls, *peer, future);
  }
  ASSERT_FALSE(refused) << "beta accepted a peer speaking protocol version 99";
  EXPECT_EQ(refused.error().code, ErrorCode::kProtocol) << refused.error().message;
  EXPECT_NE(refused.error().message.find("protocol version"), std::string::npos)
      << refused.error().message;
  ASSERT_TRUE(beta().running());

  // Authenticated, then hostile frames: each must end that session only.
  const peer::Hello hello = make_hello(*config, features, "faults-test");
  const std::vector<std::pair<std::string, std::string>> hostile = {
      {"a frame header announcing 4 GiB", std::string("\x5a\x01\x00\x00\xff\xff\xff\xff", 8)},
      {"a control frame that is no protobuf",
       std::string("\x5a\x01\x00\x00\x00\x00\x00\x10", 8) + std::string(16, '\xff')},
      {"a data frame outside a transfer",
       std::string("\x5a\x02\x00\x00\x00\x00\x00\x04", 8) + "junk"},
      {"a bad frame magic", std::string("\x13\x37\x00\x00\x00\x00\x00\x08", 8) + "12345678"},
  };
  for (const auto& [what, bytes] : hostile) {
    auto session = dial_peer(*config, **tls, *peer, hello);
    ASSERT_TRUE(session) << "handshake before " << what << ": " << session.error().message;
    Status wrote = (*session)->stream->write_all(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    EXPECT_TRUE(wrote) << wrote.message();
    // Beta answers nothing sensible and ends the session; it must not wait for 4 GiB.
    std::array<uint8_t, 1> one{};
    Status got = (*session)->stream->read_exact(one, 30000ms);
    EXPECT_FALSE(got) << "beta sent data after " << what;
    if (!got) {
      EXPECT_NE(got.code(), ErrorCode::kTimeout)
          << "beta kept the session open after " << what << " (waits for the payload?)";
    }
    ASSERT_TRUE(beta().running()) << "beta died on " << what;
  }

  // After all that, beta still serves alpha, while the idle stranger is still connected.
  auto status = beta().cli({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  init();
  expect_same_data();
  expect_newest_snapshot_same();
  // The stranger that never said a word is dropped at the end of the handshake timeout.
  EXPECT_TRUE(closed_by_peer_within(idle.fd, 30s)) << "beta keeps a silent connection open";
  EXPECT_TRUE(beta().running());
}

// 4. The destination pool fills up during an init.
class FaultsSmallDestination : public Faults {
 protected:
  PoolSizes pool_sizes() const override { return PoolSizes{"1G", "128M"}; }
};

TEST_F(FaultsSmallDestination, FullPoolIsReportedAndLeavesBothSidesAsTheyWere) {
  // Incompressible data 32 MiB more than the destination pool can hold (measured, not guessed:
  // a 128M pool holds ~40 MiB on OpenZFS and ~90 MiB on zfs-fuse), in 16 MiB files.
  const uint64_t room = std::stoull(zget(hosts_->dst_pool(), "available"));
  const size_t files = static_cast<size_t>((room + 32 * kMiB) / (16 * kMiB)) + 1;
  for (size_t i = 0; i < files; ++i) {
    write_file(mnt(src_) + "/random" + std::to_string(i) + ".bin", random_data(16 * kMiB, 500 + i));
  }
  const auto src_snaps = snapshots(src_);
  const auto src_data = tree_digest(mnt(src_));

  auto started = Clock::now();
  auto r = alpha().cli({"init", src_, beta_name(), dst_}, 240);
  auto took = Clock::now() - started;
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("space"), std::string::npos)
      << "the error does not say space ran out: " << r.err;
  EXPECT_LT(took, 120s);

  EXPECT_TRUE(wait_receives_gone(dst_));
  EXPECT_FALSE(dataset_exists(dst_)) << "a partial destination was left on the full pool";
  EXPECT_EQ(snapshots(src_), src_snaps) << "init left its snapshot on the source after the peer "
                                           "refused the stream";
  EXPECT_EQ(zget(src_, "zrep:master"), "-");
  EXPECT_EQ(zget(src_, "zrep:dest-fs"), "-");
  EXPECT_EQ(tree_digest(mnt(src_)), src_data);

  // The destination pool still works: its space came back.
  const std::string after = hosts_->dst_pool() + "/after-full";
  must({"zfs", "create", after});
  write_file(mnt(after) + "/file.txt", test_data(1 * kMiB, 3));
  EXPECT_EQ(tree_digest(mnt(after)).size(), 1u);
  EXPECT_TRUE(beta().running());
  auto status = beta().cli({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
}

// 5. The control socket is root only, and one filesystem runs one operation at a time.
TEST_F(Faults, ControlSocketIsPrivateAndConcurrentSyncsOfOneFilesystemAreRefused) {
  for (Agent* agent : {&alpha(), &beta()}) {
    struct stat st {};
    ASSERT_EQ(::stat(agent->socket_path().c_str(), &st), 0) << agent->socket_path();
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u) << agent->socket_path();
  }

  init();
  write_big(mnt(src_) + "/more");
  const uint64_t base = read_chars(alpha().pid());
  Child first = spawn_cli(alpha(), {"sync", src_});
  ASSERT_TRUE(wait_mid_transfer(base, 16 * kMiB, first)) << not_caught(first);
  auto second = alpha().cli({"sync", src_});
  const bool first_still_running = process_alive(first.pid());
  ProcessOutput first_done = first.wait(180s);

  EXPECT_TRUE(first_still_running) << "the syncs did not overlap; the test proves nothing";
  EXPECT_EQ(second.exit_code, 1) << second.out << second.err;
  EXPECT_NE(second.err.find("busy"), std::string::npos) << second.err;
  EXPECT_EQ(first_done.exit_code, 0) << first_done.err;
  // Exactly one sync ran: one new snapshot on each side, none from the refused one.
  EXPECT_EQ(snapshots(src_).size(), 2u);
  EXPECT_EQ(snapshots(dst_).size(), 2u);
  expect_same_data();
  expect_newest_snapshot_same();
}

// 6. --json prints one JSON document on stdout and nothing else, even at a terminal.
TEST_F(Faults, JsonInitPrintsOnlyJson) {
  write_file(mnt(src_) + "/medium.bin", test_data(24 * kMiB, 4));
  // First, without --json at a terminal: progress is shown there, which proves that the
  // terminal below is one the tool recognises.
  const std::string src2 = hosts_->src_pool() + "/plain";
  const std::string dst2 = hosts_->backup_root() + "/plain";
  must({"zfs", "create", src2});
  write_file(mnt(src2) + "/medium.bin", test_data(24 * kMiB, 5));
  TtyRun plain = run_with_tty_stderr(
      {ZREP_AGENT_BINARY, "--config", alpha().config_path(), "init", src2, beta_name(), dst2},
      120s);
  ASSERT_EQ(plain.exit_code, 0) << plain.out << plain.tty;
  EXPECT_NE(plain.tty.find("sending"), std::string::npos)
      << "no progress on the terminal: " << plain.tty;

  TtyRun j = run_with_tty_stderr({ZREP_AGENT_BINARY, "--config", alpha().config_path(), "--json",
                                  "init", src_, beta_name(), dst_},
                                 120s);
  ASSERT_FALSE(j.timed_out);
  ASSERT_EQ(j.exit_code, 0) << j.out << j.tty;
  EXPECT_EQ(j.out.find('\r'), std::string::npos) << j.out;
  EXPECT_EQ(j.out.find('\033'), std::string::npos) << j.out;
  // The whole of stdout is one JSON document (parse fails on anything around it).
  auto parsed = nlohmann::json::parse(j.out, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << "stdout is not JSON:\n" << j.out;
  ASSERT_TRUE(parsed.is_object()) << j.out;
  ASSERT_TRUE(parsed.contains("bytes") && parsed["bytes"].is_number_unsigned()) << j.out;
  // The whole file was sent. On OpenZFS (send -c, pools compress by default) the stream holds
  // its compressible half compressed.
  EXPECT_GT(parsed["bytes"].get<uint64_t>(), openzfs() ? 12 * kMiB : 24 * kMiB) << j.out;
  EXPECT_EQ(parsed.value("fs", ""), src_);
  EXPECT_EQ(parsed.value("dest_fs", ""), dst_);
  EXPECT_EQ(parsed.value("snapshot", ""), src_ + "@zrep_000000");
  EXPECT_EQ(parsed.value("guid", ""), zget(dst_ + "@zrep_000000", "guid"));
  // A script that captures both streams (2>&1) gets no progress lines in its JSON either.
  EXPECT_EQ(j.tty.find("sending"), std::string::npos) << "progress shown with --json: " << j.tty;
  EXPECT_EQ(j.tty.find('\033'), std::string::npos) << "terminal codes with --json: " << j.tty;
  expect_same_data();
  expect_newest_snapshot_same();
}

}  // namespace
}  // namespace zrep::testbed
