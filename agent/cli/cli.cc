#include "agent/cli/cli.h"

#include <signal.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "agent/cli/cli_internal.h"
#include "agent/config/config.h"
#include "agent/daemon/daemon.h"
#include "agent/daemon/log_format.h"
#include "agent/rpc/peer_session.h"  // kAgentVersion
#include "crypto/tls.h"

namespace zrep {
namespace cli {

int fail(const std::string& message, int code) {
  std::cerr << "zrep-agent: " << message << "\n";
  return code;
}

namespace {

std::string default_config_path() {
  const char* env = std::getenv("ZREP_AGENT_CONFIG");
  return env != nullptr && *env != '\0' ? env : kDefaultConfigPath;
}

int serve(const GlobalOptions& g) {
  auto config = load_config(g.config_path);
  if (!config) return fail(config.error().message);
  const bool journal = stderr_is_journal();
  spdlog::set_default_logger(journal ? spdlog::stderr_logger_mt("zrep-agent")
                                     : spdlog::stderr_color_mt("zrep-agent"));
  spdlog::set_level(spdlog::level::from_str(config->current_log_level()));
  set_log_format(*spdlog::default_logger(), config->host, journal);
  ::signal(SIGPIPE, SIG_IGN);
  log_offline_checks(*config);  // says what is wrong; refusing is left to the steps below
  auto zfs = Zfs::probe();
  if (!zfs) return fail(zfs.error().message);
  auto tls =
      TlsContext::create({config->ca_file, config->cert_file, config->key_file, config->crl_file});
  if (!tls) return fail(tls.error().message);
  Daemon daemon(std::move(*config), std::move(*zfs), std::move(*tls));
  Status s = daemon.run();
  if (!s) return fail(s.message());
  return 0;
}

// --config, --socket, --json and --version, before or after the subcommand.
void add_global_options(CLI::App& app, GlobalOptions& g) {
  app.fallthrough();  // global options may follow the subcommand too
  g.config_path = default_config_path();
  app.add_option(
      "-c,--config", g.config_path,
      "config file (default: $ZREP_AGENT_CONFIG or " + std::string(kDefaultConfigPath) + ")");
  app.add_option("--socket", g.socket_path,
                 "control socket of the daemon (default: from the config)");
  app.add_flag("--json", g.json, "print the result as JSON");
  app.set_version_flag("--version", std::string("zrep-agent ") + kAgentVersion);
}

void add_serve_command(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto* cmd = app.add_subcommand(
      "serve", "run the daemon (in the foreground; see deploy/zrep-agent.service)");
  cmd->callback([&g, &rc] { rc = serve(g); });
}

}  // namespace
}  // namespace cli

int run_cli(int argc, char** argv) {
  CLI::App app{
      "zrep-agent: replicates ZFS filesystems between paired hosts over mutually authenticated "
      "TLS, and moves the master role between them (failover, takeover); see the README."};
  app.require_subcommand(1);
  cli::GlobalOptions g;
  cli::add_global_options(app, g);
  int rc = 0;
  cli::add_serve_command(app, g, rc);
  cli::add_sync_commands(app, g, rc);
  cli::add_status_commands(app, g, rc);
  cli::add_maintenance_commands(app, g, rc);
  cli::add_failover_commands(app, g, rc);
  cli::add_doctor_commands(app, g, rc);
  cli::add_pki_commands(app, rc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : cli::kExitUsage;
  }
  return rc;
}

}  // namespace zrep
