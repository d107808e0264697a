// systemd's service notification protocol (sd_notify(3)) without libsystemd: one datagram to
// the socket $NOTIFY_SOCKET names. Under `Type=notify` the daemon says READY=1 once its
// sockets are bound (so a command right after `systemctl start` finds the control socket),
// RELOADING=1 / READY=1 around a SIGHUP reload, STOPPING=1 when it stops, and WATCHDOG=1 from
// its io loop at half the unit's WatchdogSec. Outside systemd every call does nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace zrep {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, then removes them from the environment
  // so the zfs children do not inherit them.
  static SystemdNotifier from_environment();

  bool enabled() const { return !socket_path_.empty(); }
  // How often to send WATCHDOG=1 (half of WatchdogSec); none when the unit has no watchdog or
  // it is meant for another process.
  std::optional<std::chrono::microseconds> watchdog_period() const { return watchdog_period_; }

  // Sends `state` ("READY=1", "STATUS=...", several separated by newlines). Failures are
  // ignored, as sd_notify's are: the service runs on without its manager's view.
  void notify(std::string_view state) const;

 private:
  std::string socket_path_;  // '@' first: an abstract socket
  std::optional<std::chrono::microseconds> watchdog_period_;
};

}  // namespace zrep
