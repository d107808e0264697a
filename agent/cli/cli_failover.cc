// The role-switch commands of the command line, each a request to the daemon: failover (planned,
// from either host), takeover (on the standby; --force without the master) and resync (a demoted
// old master becomes the new master's standby).
#include <memory>
#include <string>

#include "agent/cli/cli_internal.h"

namespace zrep::cli {
namespace {

void add_failover(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto target = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "failover",
      "planned role switch, from either host: fence the master, send a final snapshot, make "
      "the standby the master (epoch + 1) and the old master its read-only standby");
  cmd->add_option("FS[@SNAP]", *target,
                  "filesystem here; with @SNAP, switch at that common snapshot (both sides "
                  "roll back to it)")
      ->required();
  cmd->callback([&g, &rc, target] {
    control::Request r;
    auto at = target->find('@');
    r.mutable_failover()->set_fs(target->substr(0, at));
    if (at != std::string::npos) r.mutable_failover()->set_snapshot(target->substr(at + 1));
    rc = call_daemon(g, r);
  });
}

struct TakeoverOptions {
  std::string fs;
  bool force = false;
};

void add_takeover(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto o = std::make_shared<TakeoverOptions>();
  auto* cmd = app.add_subcommand(
      "takeover",
      "on the standby: become the master. Asks the master for a planned failover; with --force "
      "(the master is down) promotes the last received snapshot here");
  cmd->add_option("FS", o->fs, "the replica on this host")->required();
  cmd->add_flag("--force", o->force,
                "the master is unreachable: take over without it (what it did not send yet "
                "stays on it; it demotes itself when it comes back)");
  cmd->callback([&g, &rc, o] {
    control::Request r;
    r.mutable_takeover()->set_fs(o->fs);
    r.mutable_takeover()->set_force(o->force);
    rc = call_daemon(g, r);
  });
}

void add_resync(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto fs = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "resync",
      "on a demoted old master: keep its divergent data aside (FS-diverged-eN) and make FS the "
      "new master's standby again");
  cmd->add_option("FS", *fs, "the demoted filesystem here")->required();
  cmd->callback([&g, &rc, fs] {
    control::Request r;
    r.mutable_resync()->set_fs(*fs);
    rc = call_daemon(g, r);
  });
}

}  // namespace

void add_failover_commands(CLI::App& app, const GlobalOptions& g, int& rc) {
  add_failover(app, g, rc);
  add_takeover(app, g, rc);
  add_resync(app, g, rc);
}

}  // namespace zrep::cli
