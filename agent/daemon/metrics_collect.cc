// One scrape's reading of the daemon's state (metrics_text.h), on a session thread.
#include "agent/daemon/metrics_text.h"
#include "agent/rpc/peer_session.h"  // kAgentVersion
#include "common/unix_time.h"

namespace zrep {

ScrapeInput collect_scrape(const ScrapeSources& from) {
  ScrapeInput in;
  auto st = from.replicator.status(control::StatusCommand{});
  if (st) {
    in.status = std::move(*st);
  } else {
    in.status_ok = false;
  }
  for (const auto& name : from.config.peer_names()) {
    PeerMetrics p{.name = name, .link_up = std::nullopt, .sessions = from.peer_sessions.held(name)};
    if (auto link = from.links.describe(name)) p.link_up = link->up;
    in.peers.push_back(std::move(p));
  }
  in.now = unix_now();
  in.version = kAgentVersion;
  in.zfs_version = from.zfs.features().version;
  in.host = from.config.host;
  return in;
}

}  // namespace zrep
