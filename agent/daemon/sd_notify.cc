#include "agent/daemon/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "common/unique_fd.h"

namespace zrep {
namespace {

std::optional<long long> env_number(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  long long n = 0;
  const char* end = v + std::strlen(v);
  auto [ptr, ec] = std::from_chars(v, end, n);
  if (ec != std::errc() || ptr != end || n <= 0) return std::nullopt;
  return n;
}

}  // namespace

SystemdNotifier SystemdNotifier::from_environment() {
  SystemdNotifier n;
  if (const char* path = std::getenv("NOTIFY_SOCKET"); path != nullptr) {
    // A path ("/run/systemd/notify") or an abstract name ("@..."); anything else is not ours.
    if ((path[0] == '/' || path[0] == '@') && std::strlen(path) < sizeof(sockaddr_un::sun_path)) {
      n.socket_path_ = path;
    }
  }
  auto usec = env_number("WATCHDOG_USEC");
  auto pid = env_number("WATCHDOG_PID");
  if (usec && (!pid || *pid == ::getpid()) && n.enabled()) {
    n.watchdog_period_ = std::chrono::microseconds(*usec / 2);
  }
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  return n;
}

void SystemdNotifier::notify(std::string_view state) const {
  if (!enabled()) return;
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size());
  (void)::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&addr), len);
}

}  // namespace zrep
