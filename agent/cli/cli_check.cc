// `zrep-agent check`: a Nagios/Icinga plugin. One line, "ZREP OK|WARNING|CRITICAL|UNKNOWN -
// what | perfdata", and the plugin exit code (0/1/2/3). The verdicts are agent/cli/health.cc's,
// the same ones status shows.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/cli/cli_internal.h"
#include "agent/cli/health.h"
#include "common/unix_time.h"

namespace zrep::cli {
namespace {

struct CheckOptions {
  std::vector<std::string> names;
  std::string warn_lag, crit_lag;
};

// "900", "90s", "15m", "2h", "1d" -> seconds.
std::optional<int64_t> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (n < 0) return std::nullopt;
  const std::string unit = text.substr(used);
  if (unit.empty() || unit == "s") return n;
  if (unit == "m") return n * 60;
  if (unit == "h") return n * 3600;
  if (unit == "d") return n * 86400;
  return std::nullopt;
}

int unknown(const std::string& why) {
  std::cout << "ZREP UNKNOWN - " << why << "\n";
  return static_cast<int>(Severity::kUnknown);
}

int run_check(const GlobalOptions& g, const CheckOptions& o) {
  LagOverride lag;
  for (auto [text, field] : {std::pair{&o.warn_lag, &lag.warn}, {&o.crit_lag, &lag.crit}}) {
    if (text->empty()) continue;
    *field = parse_duration(*text);
    if (!*field) return unknown("not a duration: '" + *text + "' (say 900, 15m, 2h or 1d)");
  }
  control::Request r;
  for (const auto& n : o.names) r.mutable_status()->add_fs(n);
  r.mutable_status();
  DaemonAnswer answer = ask_daemon(g, r);  // status sends no progress
  if (!answer.result) return unknown(answer.error);
  if (!answer.result->ok()) return unknown(answer.result->message());
  if (!answer.result->has_status()) return unknown("the daemon sent no status (another release?)");
  CheckReport report = check_report(answer.result->status(), unix_now(), lag);
  std::cout << report.line << "\n";
  return report.exit_code;
}

}  // namespace

void add_check_command(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto o = std::make_shared<CheckOptions>();
  auto* cmd = app.add_subcommand(
      "check",
      "monitoring plugin (Nagios/Icinga): one status line with perfdata; exit 0 OK, 1 WARNING, "
      "2 CRITICAL, 3 UNKNOWN (the daemon not running is UNKNOWN)");
  cmd->add_option("FS", o->names, "only these filesystems (default: all of this host's)");
  cmd->add_option("--warn-lag", o->warn_lag,
                  "WARNING when a master's lag is over this (900, 15m, 2h, 1d; default: the "
                  "config's warn_lag, else from its sync interval)");
  cmd->add_option("--crit-lag", o->crit_lag,
                  "CRITICAL when a master's lag is over this (default: the config's crit_lag, "
                  "else from its sync interval)");
  cmd->callback([&g, &rc, o] { rc = run_check(g, *o); });
}

}  // namespace zrep::cli
