// Private to agent/cli: the exit codes and options every command shares, the client of the
// daemon's control socket (cli_control.cc), and the functions that register each group of
// subcommands and their callbacks with CLI11 (cli_replication.cc, cli_failover.cc, cli_pki.cc).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "agent/config/config.h"
#include "proto/control.pb.h"

namespace zrep::cli {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNoDaemon = 3;
constexpr int kExitUnhealthy = 4;  // status: shown, and a filesystem needs attention

struct GlobalOptions {
  std::string config_path;
  std::string socket_path;
  bool json = false;
};

// Prints "zrep-agent: MESSAGE" to stderr and returns `code`.
int fail(const std::string& message, int code = kExitFailed);

// The daemon's final answer (progress shown on a terminal meanwhile), or why there is none
// with the exit code for it; nothing printed.
struct DaemonAnswer {
  std::optional<control::Result> result;
  int exit_code = 0;
  std::string error;
};
DaemonAnswer ask_daemon(const GlobalOptions& g, control::Request req);

// Sends one request to the daemon and prints its result (agent/cli/render.h: text, or JSON
// with --json); returns the exit code.
int call_daemon(const GlobalOptions& g, control::Request req);

// Each adds its subcommands to `app`, in the order `--help` lists them; their callbacks set
// `rc` to the exit code. `g` and `rc` must outlive app.parse().
void add_sync_commands(CLI::App& app, const GlobalOptions& g, int& rc);    // init, sync
void add_status_commands(CLI::App& app, const GlobalOptions& g, int& rc);  // list, status, check
void add_check_command(CLI::App& app, const GlobalOptions& g, int& rc);    // check (cli_check.cc)
void add_maintenance_commands(CLI::App& app, const GlobalOptions& g, int& rc);  // expire,
                                                                                // changedest, clear
void add_failover_commands(CLI::App& app, const GlobalOptions& g, int& rc);     // failover,
                                                                                // takeover, resync
void add_pki_commands(CLI::App& app, int& rc);                             // pki init|issue|revoke
void add_doctor_commands(CLI::App& app, const GlobalOptions& g, int& rc);  // doctor, peers

// serve: runs doctor's offline checks and logs each WARN and FAIL (cli_doctor.cc).
void log_offline_checks(const Config& config);

}  // namespace zrep::cli
