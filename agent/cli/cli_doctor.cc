// `doctor` (the checks of agent/ops/diagnose.h: offline here, the peers through the daemon) and
// `peers` (the daemon's view of each peer).
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "agent/cli/cli_internal.h"
#include "agent/cli/render.h"
#include "agent/ops/diagnose.h"
#include "common/unix_time.h"

namespace zrep::cli {
namespace {

using L = control::Check;

// doctor without --offline: the daemon's answer to `peers` as checks. Returns the exit code
// the daemon's absence calls for (kExitNoDaemon), else 0.
int online_checks(const GlobalOptions& g, const Config& config, control::DoctorResult& out) {
  control::Request req;
  req.mutable_peers();
  DaemonAnswer answer = ask_daemon(g, std::move(req));
  if (!answer.result) {
    *out.add_checks() =
        make_check("daemon", L::LEVEL_FAIL, answer.error,
                   answer.exit_code == kExitNoDaemon ? "then run doctor again (doctor --offline "
                                                       "checks what needs no daemon)"
                                                     : "see the error");
    return answer.exit_code == kExitNoDaemon ? kExitNoDaemon : 0;
  }
  if (!answer.result->ok() || !answer.result->has_peers()) {
    *out.add_checks() =
        make_check("daemon", L::LEVEL_FAIL,
                   answer.result->ok() ? "the daemon does not know the peers command"
                                       : answer.result->message(),
                   "restart the daemon after upgrading");
    return 0;
  }
  *out.add_checks() = make_check("daemon", L::LEVEL_OK, "answers");
  for (auto& c : peer_checks(answer.result->peers(), config.host)) *out.add_checks() = c;
  return 0;
}

int doctor(const GlobalOptions& g, bool offline) {
  control::DoctorResult result;
  int rc = 0;
  auto config = load_config(g.config_path);
  if (!config) {
    *result.add_checks() = config_failure(g.config_path, config.error().message);
  } else {
    for (auto& c : offline_checks(*config, unix_now())) *result.add_checks() = c;
    if (!offline) rc = online_checks(g, *config, result);
  }
  if (g.json) {
    std::cout << doctor_json(result).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    std::cout << doctor_text(result);
  }
  if (rc != 0) return rc;
  return any_failed(result) ? kExitFailed : 0;
}

}  // namespace

void add_doctor_commands(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto offline = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "doctor",
      "check the config, the PKI, ZFS, min_free and (through the daemon) each peer: OK, WARN or "
      "FAIL with what to do; exit 1 on any FAIL");
  cmd->add_flag("--offline", *offline,
                "only the checks that need no daemon and no peer (what serve runs at start)");
  cmd->callback([&g, &rc, offline] { rc = doctor(g, *offline); });
  auto* peers = app.add_subcommand(
      "peers", "each peer: its link or reachability, version, ZFS, last contact, clock");
  peers->callback([&g, &rc] {
    control::Request req;
    req.mutable_peers();
    rc = call_daemon(g, req);
  });
}

void log_offline_checks(const Config& config) {
  for (const auto& c : offline_checks(config, unix_now())) {
    if (c.level() == L::LEVEL_FAIL) {
      spdlog::error("doctor: {}: {} \u2014 {}", c.name(), c.detail(), c.what_to_do());
    } else if (c.level() == L::LEVEL_WARN) {
      spdlog::warn("doctor: {}: {} \u2014 {}", c.name(), c.detail(), c.what_to_do());
    }
  }
}

}  // namespace zrep::cli
