// The command line's client of the daemon: finds the control socket, sends one request, shows
// the daemon's progress on a terminal, and prints the result as text or JSON.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "agent/cli/cli_internal.h"
#include "agent/cli/health.h"
#include "agent/cli/render.h"
#include "agent/config/config.h"
#include "agent/rpc/net.h"
#include "agent/rpc/peer_session.h"
#include "common/unix_time.h"

namespace zrep::cli {
namespace {

// The daemon's control socket: --socket, else the config's control_socket. A config that was
// named (--config or $ZREP_AGENT_CONFIG) must be readable; without one, the default socket.
Result<std::string> control_socket_path(const GlobalOptions& g) {
  if (!g.socket_path.empty()) return g.socket_path;
  auto config = load_config(g.config_path);
  if (config) return config->control_socket;
  if (g.config_path != kDefaultConfigPath) return config.error();
  return std::string(kDefaultControlSocket);
}

void print_progress(const control::Progress& p) {
  static auto last = std::chrono::steady_clock::time_point();
  auto now = std::chrono::steady_clock::now();
  if (now - last < std::chrono::milliseconds(200)) return;
  last = now;
  std::string line = p.fs() + ": " + p.phase() + " " + human_bytes(p.raw_bytes());
  if (p.bytes_per_second() > 0) {
    line += " at " + human_bytes(static_cast<uint64_t>(p.bytes_per_second())) + "/s";
    if (p.estimated_total() > p.raw_bytes()) {
      auto eta = static_cast<int64_t>(static_cast<double>(p.estimated_total() - p.raw_bytes()) /
                                      p.bytes_per_second());
      line += ", " + human_duration(eta) + " left";
    }
  }
  std::cerr << "\r\033[K" << line << std::flush;
}

// Prints the daemon's final answer; returns the exit code.
int print_result(const GlobalOptions& g, const control::Result& result) {
  // Messages may carry bytes from zfs or a peer that are not UTF-8: replace, never throw.
  auto dump = [](const nlohmann::json& j) {
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  if (!result.ok()) {
    if (g.json) {
      std::cout << dump(nlohmann::json{{"ok", false},
                                       {"error", result.error_code()},
                                       {"message", result.message()}})
                << "\n";
      return kExitFailed;
    }
    return fail(result.message());
  }
  if (result.value_case() == control::Result::VALUE_NOT_SET) {
    return fail(
        "the daemon sent a result this command does not know (restart the daemon "
        "after upgrading)");
  }
  if (g.json) {
    std::cout << dump(render_json(result)) << "\n";
  } else {
    std::cout << render_text(result, unix_now());
  }
  if (result.has_status() && needs_attention(result.status(), unix_now())) return kExitUnhealthy;
  return 0;
}

}  // namespace

DaemonAnswer ask_daemon(const GlobalOptions& g, control::Request req) {
  ::signal(SIGPIPE, SIG_IGN);
  auto socket_path = control_socket_path(g);
  if (!socket_path) return {std::nullopt, kExitUsage, socket_path.error().message};
  const std::string& path = *socket_path;
  auto fd = unix_connect(path);
  if (!fd) {
    if (fd.error().code == ErrorCode::kUnavailable) {
      return {std::nullopt, kExitNoDaemon,
              "the zrep-agent daemon is not running (nothing listens on " + path +
                  "). Start it with 'systemctl start zrep-agent' or 'zrep-agent serve --config " +
                  g.config_path + "'"};
    }
    return {std::nullopt, kExitFailed,
            "cannot reach the daemon at " + path + ": " + fd.error().message +
                (fd.error().code == ErrorCode::kPermissionDenied ? " (run as root)" : "")};
  }
  FdStream stream(*fd);
  FrameChannel channel(stream);
  req.set_protocol_version(control::VERSION_CURRENT);
  if (Status s = send_message(channel, req); !s) return {std::nullopt, kExitFailed, s.message()};
  const bool show_progress = !g.json && ::isatty(STDERR_FILENO);
  bool progress_shown = false;
  for (;;) {
    control::Reply reply;
    // Long transfers send progress at least every second; a day of silence is a hung daemon.
    if (Status s = receive_message(channel, reply, std::chrono::hours(24)); !s) {
      return {std::nullopt, kExitFailed, "lost the daemon's answer: " + s.message()};
    }
    if (reply.has_progress()) {
      if (show_progress) {
        print_progress(reply.progress());
        progress_shown = true;
      }
      continue;
    }
    if (progress_shown) std::cerr << "\r\033[K" << std::flush;
    return {reply.result(), 0, ""};
  }
}

int call_daemon(const GlobalOptions& g, control::Request req) {
  DaemonAnswer answer = ask_daemon(g, std::move(req));
  if (!answer.result) return fail(answer.error, answer.exit_code);
  return print_result(g, *answer.result);
}

}  // namespace zrep::cli
