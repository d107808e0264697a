// `peers` (the daemon's view of each peer).
#include "agent/cli/cli_internal.h"

namespace zrep::cli {

void add_doctor_commands(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto* peers = app.add_subcommand(
      "peers", "each peer: its link or reachability, version, ZFS, last contact, clock");
  peers->callback([&g, &rc] {
    control::Request req;
    req.mutable_peers();
    rc = call_daemon(g, req);
  });
}

}  // namespace zrep::cli
