// Child processes with posix_spawnp: no shell, no code of ours between fork and exec.
//
// Writes to a child's stdin pipe raise SIGPIPE when the child has gone away; the process must
// ignore SIGPIPE (the daemon does at start, tests do in their set-up) so that such a write fails
// with EPIPE instead of killing us. Children get SIGPIPE back at its default.
#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

extern char** environ;

namespace zrep {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kStreamPipeSize = 1 << 20;
constexpr size_t kMaxStderrBytes = 1 << 20;  // a runaway child must not fill our memory

void close_fd(int& fd) {
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
}

// Rounded up, so that a deadline a fraction of a millisecond away is still waited for.
milliseconds time_left(Clock::time_point deadline) {
  auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
  return std::max(left, milliseconds(0));
}

// A poll() timeout: capped, the callers loop.
int poll_millis(Clock::time_point deadline) {
  return static_cast<int>(std::min<int64_t>(time_left(deadline).count(), 10'000));
}

// Children run in the C locale: callers parse their messages, and translations would not match.
std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "LC_ALL=", 7) != 0) env.emplace_back(*e);
  }
  env.emplace_back("LC_ALL=C");
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

Error spawn_error(const std::string& program, int err) {
  if (err == ENOENT) {
    bool in_path = program.find('/') == std::string::npos;
    return make_error(ErrorCode::kNotFound, "cannot run '" + program + "': " +
                                                (in_path ? "not found in PATH" : "no such file"));
  }
  if (err == EACCES) {
    return make_error(ErrorCode::kPermissionDenied,
                      "cannot run '" + program + "': permission denied");
  }
  return make_error(ErrorCode::kInternal, "cannot run '" + program + "': " + std::strerror(err));
}

int decode_status(int status) {
  if (status == -1) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Blocks until `pid` is reaped; only used after SIGKILL, so it does not block for long.
int reap_blocking(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Reaps `pid` if it exits before `deadline`. A pidfd wakes us the moment the child exits; where
// pidfd_open is unavailable (old kernel, seccomp) short sleeps do the same job a bit later.
bool reap_until(pid_t pid, Clock::time_point deadline, int& status) {
  int pidfd = -1;
#ifdef SYS_pidfd_open
  pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#endif
  auto step = milliseconds(1);
  bool reaped = false;
  while (true) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      reaped = true;
      break;
    }
    if (r < 0 && errno == ECHILD) {  // reaped elsewhere (SIGCHLD ignored): status unknown
      status = -1;
      reaped = true;
      break;
    }
    int left = poll_millis(deadline);
    if (left <= 0) break;
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      ::poll(&p, 1, left);
    } else {
      std::this_thread::sleep_for(std::min(step, milliseconds(left)));
      step = std::min(step * 2, milliseconds(20));
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  return reaped;
}

std::string read_all_from_start(int fd) {
  std::string out;
  char buf[16384];
  off_t offset = 0;
  while (out.size() < kMaxStderrBytes) {
    ssize_t n = ::pread(fd, buf, sizeof buf, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    offset += n;
  }
  if (out.size() >= kMaxStderrBytes) {
    out.resize(kMaxStderrBytes);
    out += "\n... (truncated)";
  }
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out;
}

// Reads `fd` to EOF into `out`; false when `deadline` passes first.
bool read_until_eof(int fd, Clock::time_point deadline, std::string& out) {
  char buf[65536];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    int left = poll_millis(deadline);
    if (left <= 0) return false;
    int r = ::poll(&p, 1, left);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;  // a poll slice (at most 10 s) ended; the deadline is checked above
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return true;  // EOF (a read error on a pipe is treated the same)
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

Result<ProcessOutput> run_process(const std::vector<std::string>& argv, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  auto child = Child::spawn(argv, StdioMode::kNull, StdioMode::kPipe);
  if (!child) return child.error();
  std::string out;
  bool finished = read_until_eof(child->stdout_fd(), deadline, out);
  if (!finished) child->kill_now();
  ProcessOutput result = child->wait(finished ? time_left(deadline) : milliseconds(0));
  result.out = std::move(out);
  result.timed_out = result.timed_out || !finished;
  return result;
}

Child::Child(Child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      stdin_fd_(std::exchange(other.stdin_fd_, -1)),
      stdout_fd_(std::exchange(other.stdout_fd_, -1)),
      stderr_fd_(std::exchange(other.stderr_fd_, -1)) {}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    Child doomed(std::move(*this));  // kills and reaps what this held
    pid_ = std::exchange(other.pid_, -1);
    stdin_fd_ = std::exchange(other.stdin_fd_, -1);
    stdout_fd_ = std::exchange(other.stdout_fd_, -1);
    stderr_fd_ = std::exchange(other.stderr_fd_, -1);
  }
  return *this;
}

Child::~Child() {
  close_stdin();
  close_stdout();
  close_fd(stderr_fd_);
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    reap_blocking(pid_);
  }
}

Result<Child> Child::spawn(const std::vector<std::string>& argv, StdioMode stdin_mode,
                           StdioMode stdout_mode) {
  if (argv.empty() || argv[0].empty()) {
    return make_error(ErrorCode::kInvalidArgument, "cannot run an empty command");
  }
  Child child;  // owns every fd from here on, so early returns close them
  int in_pipe[2] = {-1, -1};
  int out_pipe[2] = {-1, -1};
  child.stderr_fd_ = ::memfd_create("zrep-child-stderr", MFD_CLOEXEC);
  if (child.stderr_fd_ < 0) {
    return make_error(ErrorCode::kInternal, std::string("memfd_create: ") + std::strerror(errno));
  }
  if ((stdin_mode == StdioMode::kPipe && ::pipe2(in_pipe, O_CLOEXEC) != 0) ||
      (stdout_mode == StdioMode::kPipe && ::pipe2(out_pipe, O_CLOEXEC) != 0)) {
    int err = errno;
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return make_error(ErrorCode::kInternal, std::string("pipe2: ") + std::strerror(err));
  }
  child.stdin_fd_ = in_pipe[1];
  child.stdout_fd_ = out_pipe[0];
  // Bigger pipes mean fewer wake-ups when streaming; without the privilege the default is fine.
  if (child.stdin_fd_ >= 0) ::fcntl(child.stdin_fd_, F_SETPIPE_SZ, kStreamPipeSize);
  if (child.stdout_fd_ >= 0) ::fcntl(child.stdout_fd_, F_SETPIPE_SZ, kStreamPipeSize);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (in_pipe[0] >= 0) {
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  if (out_pipe[1] >= 0) {
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, child.stderr_fd_, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // Descriptors other code left without O_CLOEXEC (sockets, log files) stay out of the child.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> args = argv;
  std::vector<std::string> env = child_environment();
  std::vector<char*> argp = c_strings(args);
  std::vector<char*> envp = c_strings(env);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0].c_str(), &actions, &attr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close_fd(in_pipe[0]);
  close_fd(out_pipe[1]);
  if (rc != 0) return spawn_error(argv[0], rc);
  child.pid_ = pid;
  return child;
}

void Child::close_stdin() { close_fd(stdin_fd_); }

void Child::close_stdout() { close_fd(stdout_fd_); }

void Child::kill_now() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
}

ProcessOutput Child::wait(milliseconds timeout) {
  // Our pipe ends go first: a child blocked on a pipe nobody serves any more then gets EOF or
  // EPIPE and ends now, instead of at the timeout.
  close_stdin();
  close_stdout();
  ProcessOutput result;
  if (pid_ > 0) {
    int status = 0;
    if (!reap_until(pid_, Clock::now() + timeout, status)) {
      ::kill(pid_, SIGKILL);
      status = reap_blocking(pid_);
      result.timed_out = true;
    }
    result.exit_code = decode_status(status);
    pid_ = -1;
  }
  if (stderr_fd_ >= 0) result.err = read_all_from_start(stderr_fd_);
  close_fd(stderr_fd_);
  return result;
}

}  // namespace zrep
