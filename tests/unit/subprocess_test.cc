#include "common/subprocess.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

namespace zrep {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class SubprocessTest : public ::testing::Test {
 protected:
  // As in the daemon: a write to a pipe whose reader died must fail, not kill us.
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
};

TEST_F(SubprocessTest, ExitCodes) {
  auto t = run_process({"true"}, 5s);
  ASSERT_TRUE(t.is_ok()) << t.error().message;
  EXPECT_EQ(t->exit_code, 0);
  EXPECT_FALSE(t->timed_out);
  auto f = run_process({"false"}, 5s);
  ASSERT_TRUE(f.is_ok());
  EXPECT_EQ(f->exit_code, 1);
}

TEST_F(SubprocessTest, CapturesStdoutAndStderr) {
  auto p = run_process({"printf", "%s|%s", "a b", "$HOME;`x`"}, 5s);
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->out, "a b|$HOME;`x`") << "arguments reach the program verbatim, no shell";
  auto e = run_process({"ls", "/nonexistent-zrep-path"}, 5s);
  ASSERT_TRUE(e.is_ok());
  EXPECT_NE(e->exit_code, 0);
  EXPECT_NE(e->err.find("nonexistent-zrep-path"), std::string::npos);
  EXPECT_NE(e->err.back(), '\n') << "stderr is trimmed";
  EXPECT_TRUE(e->out.empty());
}

TEST_F(SubprocessTest, StdinIsDevNull) {
  auto p = run_process({"cat"}, 5s);
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->exit_code, 0);
  EXPECT_EQ(p->out, "");
}

TEST_F(SubprocessTest, TimeoutKills) {
  auto start = Clock::now();
  auto p = run_process({"sleep", "5"}, 200ms);
  auto took = Clock::now() - start;
  ASSERT_TRUE(p.is_ok());
  EXPECT_TRUE(p->timed_out);
  EXPECT_EQ(p->exit_code, 128 + SIGKILL);
  EXPECT_LT(took, 2s);
  EXPECT_GE(took, 190ms);
}

TEST_F(SubprocessTest, SilenceShorterThanTheTimeoutIsNotATimeout) {
  // A command quiet for longer than one internal poll slice (10 s) must still complete.
  auto r = run_process({"sleep", "11"}, std::chrono::seconds(60));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->exit_code, 0);
}

TEST_F(SubprocessTest, MissingProgram) {
  auto p = run_process({"zrep-no-such-program"}, 5s);
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(p.error().message, "cannot run 'zrep-no-such-program': not found in PATH");
  auto c = Child::spawn({"/nonexistent/prog"}, StdioMode::kNull, StdioMode::kNull);
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(run_process({}, 1s).is_ok());
}

TEST_F(SubprocessTest, StreamsThroughCat) {
  auto child = Child::spawn({"cat"}, StdioMode::kPipe, StdioMode::kPipe);
  ASSERT_TRUE(child.is_ok()) << child.error().message;
  constexpr size_t kTotal = 10 << 20;
  std::thread writer([fd = child->stdin_fd()] {
    std::string block(65536, '\0');
    for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(i * 7);
    for (size_t sent = 0; sent < kTotal;) {
      ssize_t n = ::write(fd, block.data() + sent % block.size(),
                          std::min(block.size() - sent % block.size(), kTotal - sent));
      ASSERT_GT(n, 0);
      sent += static_cast<size_t>(n);
    }
  });
  size_t received = 0;
  bool content_ok = true;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(child->stdout_fd(), buf, sizeof buf);
    ASSERT_GE(n, 0);
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      content_ok &= buf[i] == static_cast<char>(((received + i) % 65536) * 7);
    }
    received += static_cast<size_t>(n);
    if (received == kTotal) {
      writer.join();
      child->close_stdin();  // cat sees EOF and ends
    }
  }
  EXPECT_EQ(received, kTotal);
  EXPECT_TRUE(content_ok);
  ProcessOutput out = child->wait(5s);
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_FALSE(out.timed_out);
}

TEST_F(SubprocessTest, WaitTimesOutAndKills) {
  auto child = Child::spawn({"sleep", "5"}, StdioMode::kNull, StdioMode::kNull);
  ASSERT_TRUE(child.is_ok());
  auto start = Clock::now();
  ProcessOutput out = child->wait(200ms);
  EXPECT_TRUE(out.timed_out);
  EXPECT_EQ(out.exit_code, 128 + SIGKILL);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST_F(SubprocessTest, WaitClosesPipesSoBlockedChildrenEnd) {
  // cat would wait for stdin forever; wait() closes our end first.
  auto child = Child::spawn({"cat"}, StdioMode::kPipe, StdioMode::kPipe);
  ASSERT_TRUE(child.is_ok());
  ProcessOutput out = child->wait(5s);
  EXPECT_FALSE(out.timed_out);
  EXPECT_EQ(out.exit_code, 0);
}

TEST_F(SubprocessTest, WriteToDeadChildFailsWithoutKillingUs) {
  auto child = Child::spawn({"true"}, StdioMode::kPipe, StdioMode::kNull);
  ASSERT_TRUE(child.is_ok());
  pid_t pid = child->pid();
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT), 0);  // not reaped
  const char data[] = "x";
  EXPECT_EQ(::write(child->stdin_fd(), data, 1), -1);
  EXPECT_EQ(errno, EPIPE);
  EXPECT_EQ(child->wait(5s).exit_code, 0);
}

TEST_F(SubprocessTest, DestructorKillsAndReaps) {
  pid_t pid;
  {
    auto child = Child::spawn({"sleep", "30"}, StdioMode::kNull, StdioMode::kNull);
    ASSERT_TRUE(child.is_ok());
    pid = child->pid();
    Child moved = std::move(*child);
    EXPECT_EQ(child->pid(), -1);
    EXPECT_EQ(moved.pid(), pid);
  }
  EXPECT_EQ(::kill(pid, 0), -1) << "the child is gone, zombie included";
  EXPECT_EQ(errno, ESRCH);
}

TEST_F(SubprocessTest, ChildSeesNoStrayDescriptors) {
  auto p = run_process({"ls", "/proc/self/fd"}, 5s);
  ASSERT_TRUE(p.is_ok());
  // 0, 1, 2 and the directory ls opened to list them.
  EXPECT_EQ(p->out, "0\n1\n2\n3\n");
}

}  // namespace
}  // namespace zrep
