#include "tests/integration/testbed.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "agent/rpc/net.h"
#include "crypto/stream_checksum.h"

namespace zrep::testbed {
namespace fs = std::filesystem;

namespace {
std::atomic<int> g_counter{0};

// Seconds since construction (total) and since the last lap.
class PhaseClock {
 public:
  double lap() {
    auto now = std::chrono::steady_clock::now();
    double s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return s;
  }
  double total() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = start_;
};
const char* kTestbedScript = ZREP_SOURCE_DIR "/deploy/zfs-testbed.sh";
}  // namespace

void ensure_zfs() {
  static bool done = false;
  if (done) return;
  ::signal(SIGPIPE, SIG_IGN);
  auto r = run_process({"bash", kTestbedScript, "start"}, std::chrono::seconds(60));
  if (!r || r->exit_code != 0) {
    std::fprintf(stderr, "cannot start zfs-fuse: %s\n",
                 r ? r->err.c_str() : r.error().message.c_str());
    std::abort();
  }
  done = true;
}

ProcessOutput run(const std::vector<std::string>& argv, int timeout_s) {
  PhaseClock clock;
  auto r = run_process(argv, std::chrono::seconds(timeout_s));
  if (!r) {
    ADD_FAILURE() << "cannot run " << argv[0] << ": " << r.error().message;
    return ProcessOutput{};
  }
  // Where a test's time goes: every command that took a while, by its first words (the
  // OpenZFS lane sums these up).
  if (double s = clock.total(); s >= 0.5) {
    std::string what = fs::path(argv[0]).filename().string();
    for (size_t i = 1; i < argv.size() && i < 6; ++i) {
      if (argv[i].rfind("--config", 0) == 0) {
        ++i;  // the config path says nothing
        continue;
      }
      what += " " + argv[i];
    }
    std::fprintf(stderr, "[testbed] command %.2f s: %s\n", s, what.c_str());
  }
  return *r;
}

std::string must(const std::vector<std::string>& argv, int timeout_s) {
  ProcessOutput out = run(argv, timeout_s);
  std::string cmd;
  for (const auto& a : argv) cmd += a + " ";
  EXPECT_EQ(out.exit_code, 0) << cmd << "\nstdout: " << out.out << "\nstderr: " << out.err;
  return out.out;
}

std::string zget(const std::string& dataset, const std::string& prop) {
  std::string v = must({"zfs", "get", "-H", "-p", "-o", "value", prop, dataset});
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

std::vector<std::string> snapshots(const std::string& fsname) {
  std::string out = must({"zfs", "list", "-H", "-o", "name", "-t", "snapshot", "-s", "createtxg",
                          "-r", "-d", "1", fsname});
  std::vector<std::string> names;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(fsname + "@", 0) == 0) names.push_back(line);
  }
  return names;
}

bool dataset_exists(const std::string& dataset) {
  return run({"zfs", "list", "-H", "-o", "name", dataset}).exit_code == 0;
}

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = "/var/tmp/" + prefix + "XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) std::abort();
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

Pool::Pool(const std::string& prefix, const std::string& dir, const std::string& size) : dir_(dir) {
  ensure_zfs();
  name_ = prefix + std::to_string(::getpid()) + "x" + std::to_string(g_counter++);
  must({"bash", kTestbedScript, "mkpool", name_, dir_, size});
}

Pool::~Pool() { run({"bash", kTestbedScript, "rmpool", name_, dir_}); }

std::map<std::string, std::string> tree_digest(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    StreamChecksum sum;
    std::vector<char> buf(1 << 16);
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      sum.update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buf.data()),
                                          static_cast<size_t>(in.gcount())));
    }
    auto digest = sum.finish();
    out[fs::relative(e.path(), root).string()] = StreamChecksum::hex(digest);
  }
  return out;
}

void write_file(const std::string& path, const std::string& contents) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

std::string test_data(size_t bytes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(bytes);
  while (s.size() < bytes) {
    if (rng() % 2 == 0) {
      s += "line " + std::to_string(rng() % 1000) + " of a compressible text file\n";
    } else {
      for (int i = 0; i < 64; ++i) s.push_back(static_cast<char>(rng() & 0xff));
    }
  }
  s.resize(bytes);
  return s;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool openzfs() {
  static const bool is = run({"zfs", "version"}).exit_code == 0;
  return is;
}

bool refuses_writes(const std::string& dir) {
  std::string probe = dir + "/.zrep-write-probe";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT, 0600);
  if (fd >= 0) {
    ::close(fd);
    ::unlink(probe.c_str());
    return false;
  }
  return errno == EROFS;
}

std::vector<pid_t> receives_into(const std::string& target) {
  std::vector<pid_t> found;
  std::error_code ec;  // processes come and go while we look
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> argv;
    std::string cur;
    for (char c : raw) {
      if (c == '\0') {
        argv.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
    if (argv.size() < 3 || fs::path(argv[0]).filename() != "zfs") continue;
    if (argv[1] != "recv" && argv[1] != "receive") continue;
    if (argv.back() == target) found.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return found;
}

bool wait_receives_gone(const std::string& target, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!receives_into(target).empty()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

// A loopback port nothing listens on now. The kernel may hand the same ephemeral port out again
// once its socket is closed, so a port given to one agent of this process is never given again
// (two agents of one test once got the same port, and one dialled itself).
int tcp_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int free_port() {
  static std::mutex mu;
  static std::set<int> given;
  std::lock_guard lk(mu);
  for (;;) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    int port = ntohs(addr.sin_port);
    ::close(fd);
    if (given.insert(port).second) return port;
  }
}

int test_io_timeout() {
  // 30 s keeps failure tests short; an emulated guest (the OpenZFS lane) sets more, since a
  // peer's step there (a key load, a mount) can go quiet for longer.
  const char* v = std::getenv("ZREP_TEST_IO_TIMEOUT");
  int s = v != nullptr ? std::atoi(v) : 0;
  return s > 0 ? s : 30;
}

std::string test_handshake_timeout_line() {
  // The agents' default (5 s) on a real host; an emulated guest sets more in the environment.
  const char* v = std::getenv("ZREP_TEST_HANDSHAKE_TIMEOUT");
  int s = v != nullptr ? std::atoi(v) : 0;
  return s > 0 ? "handshake_timeout = " + std::to_string(s) + "\n" : std::string();
}

bool eventually(const std::function<bool()>& cond, int timeout_s) {
  for (int i = 0; i < timeout_s * 10; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return cond();
}

Agent::Agent(const std::string& workdir, const AgentSpec& spec) {
  config_path_ = workdir + "/" + spec.host + ".toml";
  socket_path_ = workdir + "/" + spec.host + ".sock";
  log_path_ = workdir + "/" + spec.host + ".log";
  std::ostringstream c;
  c << "host = \"" << spec.host << "\"\n";
  if (spec.port != 0) c << "listen = \"127.0.0.1:" << spec.port << "\"\n";
  c << "control_socket = \"" << socket_path_ << "\"\n"
    << "log_level = \"debug\"\n"
    << "io_timeout = " << test_io_timeout() << "\n"
    << test_handshake_timeout_line() << spec.extra_config << "\n"
    << "[tls]\nca = \"" << spec.ca << "\"\ncert = \"" << spec.cert << "\"\nkey = \"" << spec.key
    << "\"\n"
    << spec.tls_extra << "\n"
    << "[[peer]]\nname = \"" << spec.peer << "\"\n";
  if (spec.peer_port != 0) c << "address = \"127.0.0.1:" << spec.peer_port << "\"\n";
  c << "datasets = [";
  for (size_t i = 0; i < spec.allowed.size(); ++i)
    c << (i ? ", " : "") << "\"" << spec.allowed[i] << "\"";
  c << "]\n";
  write_file(config_path_, c.str());
}

Agent::~Agent() { stop(); }

void Agent::start() {
  // The daemon logs to stderr; a shell-free redirect: spawn through `sh -c` is not used, the
  // log goes to the Child's stderr capture and is copied to log_path_ at stop().
  std::vector<std::string> argv;
  if (!env_.empty()) {
    argv.push_back("/usr/bin/env");
    argv.insert(argv.end(), env_.begin(), env_.end());
  }
  for (const char* a : {ZREP_AGENT_BINARY, "serve", "--config"}) argv.push_back(a);
  argv.push_back(config_path_);
  auto child = Child::spawn(argv, StdioMode::kNull, StdioMode::kNull);
  ASSERT_TRUE(child) << child.error().message;
  child_ = std::move(*child);
  // Polled: fast where the machine is, and patient where it is slow (an emulated guest).
  for (int i = 0; i < 600; ++i) {
    if (auto fd = unix_connect(socket_path_)) {
      ::close(*fd);
      return;
    }
    if (!running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop();
  FAIL() << "agent " << config_path_ << " did not open its control socket in 30 s";
}

void Agent::stop() {
  if (!child_) return;
  ::kill(child_->pid(), SIGTERM);
  ProcessOutput out = child_->wait(std::chrono::seconds(20));
  child_.reset();
  std::ofstream(log_path_, std::ios::app) << out.err << "\n";
  if (::testing::Test::HasFailure() || std::getenv("ZREP_TEST_PRINT_LOGS") != nullptr) {
    std::fprintf(stderr, "---- log of %s ----\n%s\n---- end of log ----\n", config_path_.c_str(),
                 out.err.c_str());
  }
}

void Agent::kill9() {
  if (!child_) return;
  ::kill(child_->pid(), SIGKILL);
  ProcessOutput out = child_->wait(std::chrono::seconds(20));
  child_.reset();
  std::ofstream(log_path_, std::ios::app) << out.err << "\n---- killed with SIGKILL ----\n";
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "---- log of %s (SIGKILLed) ----\n%s\n---- end of log ----\n",
                 config_path_.c_str(), out.err.c_str());
  }
}

bool Agent::wait_exit(int timeout_s) {
  if (!child_) return true;
  for (int i = 0; i < timeout_s * 10 && running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (running()) return false;
  ProcessOutput out = child_->wait(std::chrono::seconds(5));
  child_.reset();
  std::ofstream(log_path_, std::ios::app) << out.err << "\n---- exited by itself ----\n";
  return true;
}

pid_t Agent::pid() const { return child_ ? child_->pid() : -1; }

bool Agent::running() const {
  if (!child_) return false;
  std::ifstream in("/proc/" + std::to_string(child_->pid()) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  // "pid (comm) S ...": the state follows the last ')'.
  auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

std::string Agent::log() const {
  std::ifstream in(log_path_);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

ProcessOutput Agent::cli(const std::vector<std::string>& args, int timeout_s) const {
  std::vector<std::string> argv{ZREP_AGENT_BINARY, "--config", config_path_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, timeout_s);
}

nlohmann::json Agent::cli_json(const std::vector<std::string>& args) const {
  std::vector<std::string> a{"--json"};
  a.insert(a.end(), args.begin(), args.end());
  ProcessOutput out = cli(a);
  // status answers 4 when it shows a filesystem that needs attention (tests look at why).
  const bool status = !args.empty() && args[0] == "status";
  if (!(status && out.exit_code == 4)) {
    EXPECT_EQ(out.exit_code, 0) << "stdout: " << out.out << "\nstderr: " << out.err;
  }
  auto j = nlohmann::json::parse(out.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << out.out;
  return j;
}

TwoHosts::TwoHosts() : TwoHosts(PoolSizes{}) {}

TwoHosts::TwoHosts(const PoolSizes& sizes) {
  ensure_zfs();
  PhaseClock clock;
  dir_ = std::make_unique<TempDir>("zrep-it-");
  src_ = std::make_unique<Pool>("zsrc", dir_->path(), sizes.src);
  dst_ = std::make_unique<Pool>("zdst", dir_->path(), sizes.dst);
  must({"zfs", "create", backup_root()});
  const double pools_s = clock.lap();
  pki_dir_ = dir_->path() + "/pki";
  must({ZREP_AGENT_BINARY, "pki", "init", pki_dir_});
  // Host names unique to this run: other zrep users of the same zfs-fuse (another test run, the
  // demo, a benchmark) may have "alpha" filesystems of their own.
  const std::string suffix = std::to_string(::getpid()) + "-" + std::to_string(g_counter++);
  alpha_name_ = "alpha-" + suffix;
  beta_name_ = "beta-" + suffix;
  must({ZREP_AGENT_BINARY, "pki", "issue", pki_dir_, alpha_name_});
  must({ZREP_AGENT_BINARY, "pki", "issue", pki_dir_, beta_name_});
  const double pki_s = clock.lap();
  int pa = free_port(), pb = free_port();
  auto pki = [&](const std::string& file) { return pki_dir_ + "/" + file; };
  alpha_spec = {alpha_name_,
                pa,
                beta_name_,
                pb,
                {src_->name()},
                pki("ca.crt"),
                pki(alpha_name_ + ".crt"),
                pki(alpha_name_ + ".key"),
                ""};
  beta_spec = {beta_name_,
               pb,
               alpha_name_,
               pa,
               {backup_root()},
               pki("ca.crt"),
               pki(beta_name_ + ".crt"),
               pki(beta_name_ + ".key"),
               ""};
  alpha_ = std::make_unique<Agent>(dir_->path(), alpha_spec);
  beta_ = std::make_unique<Agent>(dir_->path(), beta_spec);
  alpha_->start();
  beta_->start();
  // Where a test's time goes (the OpenZFS lane sums these lines up per test).
  std::fprintf(stderr, "[testbed] setup %.2f s: pools %.2f s, pki %.2f s, agents %.2f s\n",
               clock.total(), pools_s, pki_s, clock.lap());
}

void TwoHosts::restart_alpha(const AgentSpec& spec) {
  alpha_->stop();
  alpha_spec = spec;
  alpha_ = std::make_unique<Agent>(dir_->path(), spec);
  alpha_->start();
}

void TwoHosts::restart_beta(const AgentSpec& spec, std::vector<std::string> env) {
  beta_->stop();
  beta_spec = spec;
  beta_ = std::make_unique<Agent>(dir_->path(), spec);
  beta_->set_env(std::move(env));
  beta_->start();
}

TwoHosts::~TwoHosts() {
  PhaseClock clock;
  alpha_.reset();
  beta_.reset();
  const double agents_s = clock.lap();
  src_.reset();
  dst_.reset();
  std::fprintf(stderr, "[testbed] teardown %.2f s: agents %.2f s, pools %.2f s\n", clock.total(),
               agents_s, clock.lap());
}

void PairTest::make_hosts(const PoolSizes& sizes) {
  hosts_ = std::make_unique<TwoHosts>(sizes);
  src_ = hosts_->src_pool() + "/data";
  dst_ = hosts_->backup_root() + "/data";
  must({"zfs", "create", src_});
}

void PairTest::init() {
  auto r = alpha().cli({"init", src_, beta_name(), dst_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

void PairTest::expect_same_data() {
  auto a = tree_digest(mnt(src_));
  auto b = tree_digest(mnt(dst_));
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b) << "destination files differ from the source";
}

void PairTest::expect_newest_snapshot_same() {
  auto s = snapshots(src_);
  auto d = snapshots(dst_);
  ASSERT_FALSE(s.empty());
  ASSERT_FALSE(d.empty());
  EXPECT_EQ(zget(s.back(), "guid"), zget(d.back(), "guid"));
  EXPECT_NE(zget(s.back(), "zrep:sent"), "-");
  EXPECT_NE(zget(d.back(), "zrep:sent"), "-");
}

}  // namespace zrep::testbed
