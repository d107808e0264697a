// systemd's notify protocol (agent/daemon/sd_notify.h): what arrives on $NOTIFY_SOCKET.
#include "agent/daemon/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "common/unique_fd.h"

namespace zrep {
namespace {

// A datagram socket bound where a test says systemd listens.
class FakeManager {
 public:
  FakeManager() {
    char dir[] = "/tmp/zrep-notify-XXXXXX";
    dir_ = ::mkdtemp(dir);
    path_ = dir_ + "/notify";
    fd_ = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{2, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~FakeManager() {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }
  std::string receive() {
    char buf[512];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    return n < 0 ? std::string("(nothing)") : std::string(buf, static_cast<size_t>(n));
  }

 private:
  std::string dir_, path_;
  UniqueFd fd_;
};

TEST(SdNotify, SendsToTheSocketAndClearsTheEnvironment) {
  FakeManager manager;
  ::setenv("NOTIFY_SOCKET", manager.path().c_str(), 1);
  ::setenv("WATCHDOG_USEC", "3000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  SystemdNotifier n = SystemdNotifier::from_environment();
  EXPECT_TRUE(n.enabled());
  ASSERT_TRUE(n.watchdog_period());
  EXPECT_EQ(n.watchdog_period()->count(), 1500000);  // half of WatchdogSec
  EXPECT_EQ(std::getenv("NOTIFY_SOCKET"), nullptr);  // zfs children must not inherit it
  EXPECT_EQ(std::getenv("WATCHDOG_USEC"), nullptr);
  n.notify("READY=1\nSTATUS=serving");
  EXPECT_EQ(manager.receive(), "READY=1\nSTATUS=serving");
  n.notify("WATCHDOG=1");
  EXPECT_EQ(manager.receive(), "WATCHDOG=1");
}

TEST(SdNotify, AWatchdogForAnotherProcessOrNoSocketIsNotOurs) {
  FakeManager manager;
  ::setenv("NOTIFY_SOCKET", manager.path().c_str(), 1);
  ::setenv("WATCHDOG_USEC", "3000000", 1);
  ::setenv("WATCHDOG_PID", "1", 1);
  SystemdNotifier other = SystemdNotifier::from_environment();
  EXPECT_TRUE(other.enabled());
  EXPECT_FALSE(other.watchdog_period());

  ::setenv("WATCHDOG_USEC", "garbage", 1);
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  SystemdNotifier none = SystemdNotifier::from_environment();
  EXPECT_FALSE(none.enabled());
  EXPECT_FALSE(none.watchdog_period());
  none.notify("READY=1");  // does nothing, and does not fail

  SystemdNotifier outside = SystemdNotifier::from_environment();  // nothing set at all
  EXPECT_FALSE(outside.enabled());
}

}  // namespace
}  // namespace zrep
