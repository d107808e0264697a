// Child processes run from an argv array: never through a shell.
//
// run() captures stdout and stderr, with a timeout after which the child is killed. spawn()
// gives the caller a pipe to the child's stdin or from its stdout for streaming (zfs send/recv);
// stderr always goes to an in-memory file read back by wait(). A Child is owned by one thread.
// The process must ignore SIGPIPE (signal(SIGPIPE, SIG_IGN); the daemon does at start): a write
// to the stdin of a child that has exited then fails with EPIPE instead of killing us.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace zrep {

struct ProcessOutput {
  int exit_code = -1;  // exit status, or 128+signal when killed by a signal
  std::string out;     // stdout (run() only)
  std::string err;     // stderr, trimmed of trailing white space
  bool timed_out = false;
};

// Runs argv[0] (looked up in PATH) with stdin from /dev/null. Fails only when the program cannot
// be started; a non-zero exit is reported in ProcessOutput.
Result<ProcessOutput> run_process(const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout);

enum class StdioMode { kNull, kPipe };

class Child {
 public:
  Child() = default;
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  ~Child();  // kills and reaps a child still running

  // stdin_mode kPipe: stdin_fd() is the write end. stdout_mode kPipe: stdout_fd() is the read
  // end. Pipes are enlarged (F_SETPIPE_SZ, 1 MiB when allowed) for streaming.
  static Result<Child> spawn(const std::vector<std::string>& argv, StdioMode stdin_mode,
                             StdioMode stdout_mode);

  pid_t pid() const { return pid_; }
  int stdin_fd() const { return stdin_fd_; }
  int stdout_fd() const { return stdout_fd_; }
  void close_stdin();  // idempotent
  // Hands the stdin pipe's write end to the caller, who must close it; the Child forgets it.
  int release_stdin() { return std::exchange(stdin_fd_, -1); }
  void close_stdout();  // idempotent

  // Closes our pipe ends, waits up to `timeout` for exit (kills with SIGKILL and reports
  // timed_out after that), then returns the exit code and stderr.
  ProcessOutput wait(std::chrono::milliseconds timeout);
  void kill_now();  // SIGKILL; wait() still reaps

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;  // memfd
};

}  // namespace zrep
