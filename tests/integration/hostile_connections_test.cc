// Connections that try to stop replication without breaking any rule of the protocol: idle
// strangers holding the port, a peer that trickles its Hello or a frame, a peer that opens
// sessions without end or leaves them idle, an agent out of descriptors. Each attack runs
// against a real agent on zfs-fuse while the honest peer's syncs must still go through.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "agent/config/config.h"
#include "agent/rpc/net.h"
#include "agent/rpc/peer_session.h"
#include "agent/zfs/zfs.h"
#include "common/unique_fd.h"
#include "proto/control.pb.h"
#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A TCP connection to 127.0.0.1:port from the source address `from` (any 127/8 address is
// this host's loopback): -1 when it cannot be made.
int tcp_from(const char* from, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, from, &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the other end closed `fd` (or reset it); reads and drops what it sent.
bool closed_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  char buf[4096];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

// The resident memory of a process, in KiB (-1 when unknown).
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// CPU time (user + system) a process used so far, in clock ticks.
long cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(close_paren + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {
    if (i == 14) utime = std::stol(f);
    if (i == 15) {
      stime = std::stol(f);
      break;
    }
  }
  return utime + stime;
}

// The lowest descriptor number a process has free: with RLIMIT_NOFILE at it, it can open none.
int lowest_free_fd(pid_t pid) {
  std::set<int> used;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    used.insert(std::stoi(it->path().filename().string()));
  }
  int n = 0;
  while (used.contains(n)) ++n;
  return n;
}

// Stops and joins a helper thread when the test ends, also on a failed assertion.
struct Joined {
  std::atomic<bool>& stop;
  std::thread& thread;
  ~Joined() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class HostileConnections : public PairTest {
 protected:
  void SetUp() override {
    make_hosts(PoolSizes{});
    write_file(mnt(src_) + "/a.bin", test_data(2 << 20, 11));
    write_file(mnt(src_) + "/b.txt", "connections\n");
    load_client();
  }

  // A client of beta with alpha's certificate: alpha's own config, so beta takes it for alpha.
  void load_client() {
    auto cfg = load_config(alpha().config_path());
    ASSERT_TRUE(cfg) << cfg.error().message;
    config_ = *cfg;
    auto tls = TlsContext::create({config_.ca_file, config_.cert_file, config_.key_file});
    ASSERT_TRUE(tls) << tls.error().message;
    tls_ = *tls;
  }

  void restart_beta_with(const std::string& extra) {
    AgentSpec spec = hosts_->beta_spec;
    spec.extra_config += extra;
    hosts_->restart_beta(spec);
  }

  peer::Hello hello() {
    ZfsFeatures features;
    features.version = "hostile-connections-test";
    return make_hello(config_, features, "hostile-connections-test");
  }

  Result<std::unique_ptr<PeerSession>> dial() {
    return dial_peer(config_, *tls_, *config_.find_peer(beta_name()), hello());
  }

  // TLS to beta with alpha's certificate, no Hello yet.
  std::unique_ptr<TlsStream> tls_only() {
    auto fd = tcp_connect(*config_.find_peer(beta_name())->address, 5s);
    EXPECT_TRUE(fd) << fd.error().message;
    if (!fd) return nullptr;
    auto stream = TlsStream::connect(*tls_, *fd, beta_name(), 5s);
    EXPECT_TRUE(stream) << stream.error().message;
    return stream ? std::move(*stream) : nullptr;
  }

  // Alpha replicates to beta, with new data in a second sync; all of it arrives.
  void honest_init_and_sync() {
    init();
    write_file(mnt(src_) + "/c.bin", test_data(1 << 20, 12));
    auto r = alpha().cli({"sync", src_});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    expect_same_data();
    expect_newest_snapshot_same();
  }

  Config config_;
  std::shared_ptr<TlsContext> tls_;
};

// (a) 40 idle TCP connections from one address, reopened as soon as beta drops them, while
// alpha inits and syncs: alpha's handshakes still get through.
TEST_F(HostileConnections, IdleStrangersFromOneAddressDoNotStopThePeersSyncs) {
  const int port = hosts_->beta_spec.port;
  std::atomic<bool> stop{false};
  std::atomic<int> held{0}, reopened{0};
  std::thread stranger([&] {
    std::vector<int> fds(40, -1);
    while (!stop) {
      int now = 0;
      for (int& fd : fds) {
        if (fd >= 0 && closed_now(fd)) {
          ::close(fd);
          fd = -1;
          ++reopened;
        }
        if (fd < 0) fd = tcp_from("127.0.0.2", port);
        if (fd >= 0) ++now;
      }
      held = now;
      std::this_thread::sleep_for(100ms);
    }
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  });
  Joined joined{stop, stranger};
  ASSERT_TRUE(eventually([&] { return held.load() >= 40; }, 10)) << "held " << held.load();
  honest_init_and_sync();
  EXPECT_GT(reopened.load(), 0) << "beta never dropped a stranger over its caps";
  stop = true;
  stranger.join();
  EXPECT_TRUE(beta().running());
}

// (b) A peer with a valid certificate that sends its Hello one byte a second is dropped at the
// handshake deadline (5 s by default, from the TCP accept), and alpha's sync goes on meanwhile.
TEST_F(HostileConnections, HelloOneByteASecondIsDroppedAtTheHandshakeDeadline) {
  std::string frame;
  {
    std::string payload;
    ASSERT_TRUE(hello().SerializeToString(&payload));
    auto header = encode_frame_header(FrameType::kControl, static_cast<uint32_t>(payload.size()));
    frame.assign(header.begin(), header.end());
    frame += payload;
  }
  constexpr int kSlow = 3;
  std::vector<std::unique_ptr<TlsStream>> slow;
  const auto start = Clock::now();
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(tls_only());
    ASSERT_NE(slow.back(), nullptr);
  }
  std::atomic<bool> stop{false};
  std::vector<std::atomic<long long>> dropped_ms(kSlow);  // -1: still open
  for (auto& d : dropped_ms) d = -1;
  auto since_start = [&start] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  };
  std::thread trickle([&] {
    for (size_t sent = 0; sent < frame.size() && !stop; ++sent) {
      bool any_open = false;
      for (int i = 0; i < kSlow; ++i) {
        if (dropped_ms[i] >= 0) continue;
        Status wrote = slow[i]->write_all(bytes_of(frame.substr(sent, 1)));
        std::array<uint8_t, 1> one{};
        Status read = wrote ? slow[i]->read_exact(one, 1ms) : wrote;
        if (!wrote || read || read.code() != ErrorCode::kTimeout) {
          dropped_ms[i] = since_start();
        } else {
          any_open = true;
        }
      }
      if (!any_open) return;
      for (int t = 0; t < 10 && !stop; ++t) std::this_thread::sleep_for(100ms);
    }
  });
  Joined joined{stop, trickle};
  honest_init_and_sync();
  ASSERT_TRUE(eventually(
      [&] {
        return std::all_of(dropped_ms.begin(), dropped_ms.end(),
                           [](const auto& d) { return d.load() >= 0; });
      },
      12))
      << "beta kept a trickled Hello open past the handshake deadline";
  for (const auto& d : dropped_ms) {
    EXPECT_LT(d.load(), 8000) << "dropped only after " << d.load()
                              << " ms (handshake_timeout is 5 s)";
  }
  EXPECT_LT(frame.size(), 30u * 1000) << "the Hello would have been done before the deadline";
}

// (c) Sessions whose next frame announces the largest payload and then trickles: beta drops each
// at the frame deadline, and never allocates the announced megabyte before the bytes are there.
TEST_F(HostileConnections, HugeFrameTrickleIsDroppedAtTheFrameDeadlineWithoutAllocating) {
  restart_beta_with("frame_timeout = 2\n");
  constexpr int kSessions = 24;
  std::vector<std::unique_ptr<PeerSession>> sessions;
  for (int i = 0; i < kSessions; ++i) {
    auto s = dial();
    ASSERT_TRUE(s) << s.error().message;
    sessions.push_back(std::move(*s));
  }
  const pid_t pid = beta().pid();
  const long before = rss_kib(pid);
  ASSERT_GT(before, 0);
  auto header = encode_frame_header(FrameType::kControl, kMaxControlPayload);
  for (auto& s : sessions) ASSERT_TRUE(s->stream->write_all(header));
  const auto start = Clock::now();
  std::vector<std::optional<Clock::duration>> dropped(kSessions);
  long peak = before;
  const std::string byte = "x";
  while (Clock::now() - start < 8s) {
    bool any_open = false;
    for (int i = 0; i < kSessions; ++i) {
      if (dropped[i]) continue;
      Status wrote = sessions[i]->stream->write_all(bytes_of(byte));
      std::array<uint8_t, 1> one{};
      Status read = wrote ? sessions[i]->stream->read_exact(one, 1ms) : wrote;
      if (!wrote || read || read.code() != ErrorCode::kTimeout) {
        dropped[i] = Clock::now() - start;
      } else {
        any_open = true;
      }
    }
    peak = std::max(peak, rss_kib(pid));
    if (!any_open) break;
    std::this_thread::sleep_for(200ms);
  }
  // kSessions announced megabytes would be 24 MiB; what arrived is a few bytes each.
  EXPECT_LT(peak - before, 8 * 1024) << "beta's RSS grew from " << before << " KiB to " << peak
                                     << " KiB for " << kSessions << " trickled frames";
  for (int i = 0; i < kSessions; ++i) {
    ASSERT_TRUE(dropped[i]) << "session " << i << " still open 8 s after a trickled frame began";
    EXPECT_LT(*dropped[i], 5s) << "frame_timeout is 2 s";
  }
  ASSERT_TRUE(beta().running());
  honest_init_and_sync();
}

// (d) A peer opening request sessions without end is refused at max_sessions_per_peer, with a
// message saying so; beta's own requests to alpha still work meanwhile, and once the flood ends
// alpha syncs.
TEST_F(HostileConnections, RequestSessionsOfOnePeerStopAtThePerPeerCap) {
  const int cap = 32;  // max_sessions_per_peer by default
  std::vector<std::unique_ptr<PeerSession>> held;
  std::optional<Error> refused;
  for (int i = 0; i < cap + 8 && !refused; ++i) {
    auto s = dial();
    if (s) {
      held.push_back(std::move(*s));
    } else {
      refused = s.error();
    }
  }
  ASSERT_TRUE(refused) << "beta accepted " << held.size() << " sessions of one peer (cap " << cap
                       << ")";
  EXPECT_EQ(static_cast<int>(held.size()), cap);
  EXPECT_EQ(refused->code, ErrorCode::kUnavailable) << refused->message;
  EXPECT_NE(refused->message.find("max_sessions_per_peer"), std::string::npos) << refused->message;

  // The other direction: beta's requests to alpha are not held up by alpha's sessions there.
  auto beta_cfg = load_config(beta().config_path());
  ASSERT_TRUE(beta_cfg) << beta_cfg.error().message;
  auto beta_tls = TlsContext::create({beta_cfg->ca_file, beta_cfg->cert_file, beta_cfg->key_file});
  ASSERT_TRUE(beta_tls) << beta_tls.error().message;
  ZfsFeatures features;
  auto to_alpha = dial_peer(*beta_cfg, **beta_tls, *beta_cfg->find_peer(hosts_->alpha_name()),
                            make_hello(*beta_cfg, features, "other-direction"));
  ASSERT_TRUE(to_alpha) << to_alpha.error().message;
  PeerClient client(std::move(*to_alpha), 30s);
  auto described = client.describe(src_);
  ASSERT_TRUE(described) << described.error().message;

  // The flood ends: its slots come back, and alpha's syncs go through.
  held.clear();
  honest_init_and_sync();
}

// (e) A request session that asks nothing for session_idle_timeout is closed; one that keeps
// asking is not, and a sync is not cut by the limit.
TEST_F(HostileConnections, IdleRequestSessionIsClosedAfterTheIdleLimit) {
  restart_beta_with("session_idle_timeout = 2\n");
  auto idle = dial();
  ASSERT_TRUE(idle) << idle.error().message;
  auto busy = dial();
  ASSERT_TRUE(busy) << busy.error().message;
  PeerClient client(std::move(*busy), 30s);
  const auto start = Clock::now();
  std::optional<Clock::duration> idle_closed;
  while (Clock::now() - start < 4s) {
    auto d = client.describe(dst_);
    ASSERT_TRUE(d || d.error().code == ErrorCode::kNotFound) << d.error().message;
    std::array<uint8_t, 1> one{};
    if (!idle_closed) {
      Status read = (*idle)->stream->read_exact(one, 1ms);
      if (read || read.code() != ErrorCode::kTimeout) idle_closed = Clock::now() - start;
    }
    std::this_thread::sleep_for(250ms);
  }
  ASSERT_TRUE(idle_closed) << "an idle session was still open 4 s after its last request "
                              "(session_idle_timeout is 2 s)";
  EXPECT_GT(*idle_closed, 1500ms);
  // The busy session lived twice the idle limit: it is still served.
  auto d = client.describe(dst_);
  EXPECT_TRUE(d || d.error().code == ErrorCode::kNotFound) << d.error().message;
  honest_init_and_sync();
}

// The agent out of descriptors: accept() fails while a connection waits in the backlog. The
// accept loop backs off instead of spinning a core and flooding the log, and serves again once
// descriptors are free.
TEST_F(HostileConnections, AcceptOutOfDescriptorsBacksOff) {
  const pid_t pid = beta().pid();
  const int port = hosts_->beta_spec.port;
  rlimit old{};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &old), 0) << std::strerror(errno);
  const int lowest_free = lowest_free_fd(pid);
  ASSERT_GT(lowest_free, 2);
  rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(lowest_free);  // no descriptor left for accept()
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &tight, nullptr), 0) << std::strerror(errno);
  struct Restore {
    pid_t pid;
    rlimit old;
    ~Restore() { ::prlimit(pid, RLIMIT_NOFILE, &old, nullptr); }
  } restore{pid, old};

  const size_t log_before = beta().log().size();
  const long cpu_before = cpu_ticks(pid);
  int waiting = tcp_from("127.0.0.3", port);  // stays in the backlog: accept() cannot take it
  ASSERT_GE(waiting, 0);
  std::this_thread::sleep_for(2s);
  const long cpu = cpu_ticks(pid) - cpu_before;
  const size_t logged = beta().log().size() - log_before;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  EXPECT_LT(cpu, ticks / 2) << "beta used " << cpu << " ticks of CPU in 2 s out of descriptors";
  EXPECT_LT(logged, 2000u) << "beta logged " << logged << " bytes in 2 s out of descriptors";
  ::close(waiting);

  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &old, nullptr), 0);
  honest_init_and_sync();
}

// (g) Commands on the control socket hold a thread each while they run: 64 at most. The next
// is answered "busy" at once (not left hanging), and once the others end, commands are served
// again.
TEST_F(HostileConnections, ControlCommandsPastTheLimitAreAnsweredBusy) {
  const int limit = 64;
  std::vector<UniqueFd> held;
  for (int i = 0; i < limit; ++i) {
    auto fd = unix_connect(beta().socket_path());
    ASSERT_TRUE(fd) << fd.error().message;
    held.emplace_back(*fd);
  }
  // One status request on a connection of its own; the reply is read even when the daemon
  // closed its end before the request went out.
  auto ask = [&](control::Reply& reply) -> Status {
    auto fd = unix_connect(beta().socket_path());
    if (!fd) return fd.error();
    FdStream stream(*fd);
    FrameChannel channel(stream);
    control::Request req;
    req.set_protocol_version(control::VERSION_CURRENT);
    req.mutable_status();
    (void)send_message(channel, req);
    return receive_message(channel, reply, 5s);
  };
  // The daemon accepts in order: the 65th finds every slot taken (the held connections send
  // nothing for the 10 s a request may take to arrive).
  control::Reply busy;
  Status asked = ask(busy);
  ASSERT_TRUE(asked) << asked.message();
  ASSERT_TRUE(busy.has_result());
  EXPECT_FALSE(busy.result().ok());
  EXPECT_EQ(busy.result().error_code(), "busy") << busy.result().message();
  EXPECT_NE(busy.result().message().find("64 commands are running already"), std::string::npos)
      << busy.result().message();

  held.clear();
  control::Reply served;
  const auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    served.Clear();
    if (ask(served) && served.result().ok()) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(served.result().ok()) << served.result().message();
  EXPECT_TRUE(served.result().has_status());
  auto r = beta().cli({"status"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
}  // namespace zrep::testbed
