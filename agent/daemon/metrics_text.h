// What GET /metrics answers (agent/daemon/metrics_server.h): the gauges read at scrape time
// from the status of every filesystem and from the links and sessions of every peer, then the
// counters and histograms counted where things happen (agent/logic/metric_names.h).
// metrics_text is pure, unit-tested (tests/unit/metrics_test.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/ops/replicator.h"
#include "agent/rpc/conn_limits.h"
#include "agent/rpc/link.h"
#include "common/metrics.h"
#include "proto/control.pb.h"

namespace zrep {

struct PeerMetrics {
  std::string name;
  std::optional<bool> link_up;  // none: no link is kept with this peer
  int sessions = 0;             // authenticated sessions open now
};

struct ScrapeInput {
  control::StatusResult status;  // Replicator::status of every filesystem
  bool status_ok = true;         // false: the filesystems could not be listed
  std::vector<PeerMetrics> peers;
  int64_t now = 0;
  std::string version, zfs_version, host;
};

// What a scrape reads: the status of every filesystem (zfs), the links and sessions of every
// configured peer. On a session thread (metrics_collect.cc).
struct ScrapeSources {
  const Config& config;
  const Zfs& zfs;
  Replicator& replicator;
  LinkHub& links;
  const SlotCounter& peer_sessions;
};
ScrapeInput collect_scrape(const ScrapeSources& from);

// The families of the counters and histograms, once at the daemon's start.
void describe_metrics(metrics::Registry& registry);

std::string metrics_text(const ScrapeInput& in, const metrics::Registry& registry);

}  // namespace zrep
