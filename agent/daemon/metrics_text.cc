#include "agent/daemon/metrics_text.h"

#include "agent/logic/metric_names.h"
#include "agent/logic/role_switch.h"

namespace zrep {
namespace {

using metrics::Exposition;
using metrics::Kind;
using metrics::Labels;

// One gauge family with one sample per filesystem that has the value.
template <typename Get>
void per_fs(Exposition& out, const control::StatusResult& st, const std::string& name,
            const std::string& help, Get get) {
  out.family(name, Kind::kGauge, help);
  for (const auto& fs : st.filesystems()) {
    if (std::optional<double> v = get(fs)) {
      out.sample(name, {{"fs", fs.fs()}, {"peer", fs.peer()}}, *v);
    }
  }
}

void filesystem_gauges(Exposition& out, const control::StatusResult& st) {
  out.family("zrep_filesystem_info", Kind::kGauge,
             "1 per zrep filesystem on this host, with its role (master, destination, demoted) "
             "and its peer's dataset");
  for (const auto& fs : st.filesystems()) {
    out.sample(
        "zrep_filesystem_info",
        {{"fs", fs.fs()}, {"peer", fs.peer()}, {"peer_fs", fs.peer_fs()}, {"role", fs.role()}}, 1);
  }
  using F = control::FsStatus;
  using D = std::optional<double>;
  per_fs(out, st, "zrep_master", "1 when this host is the master of the filesystem",
         [](const F& f) -> D { return f.role() == "master" ? 1 : 0; });
  per_fs(out, st, "zrep_epoch", "the pairing's epoch (each role switch adds one)",
         [](const F& f) -> D { return static_cast<double>(parse_epoch(f.epoch())); });
  per_fs(out, st, "zrep_lag_seconds", "age of the newest snapshot both sides hold",
         [](const F& f) -> D {
           return f.has_lag_seconds() ? D(static_cast<double>(f.lag_seconds())) : std::nullopt;
         });
  per_fs(out, st, "zrep_last_sync_timestamp_seconds", "when the newest sent snapshot was sent",
         [](const F& f) -> D {
           return f.has_last_sync_time() ? D(static_cast<double>(f.last_sync_time()))
                                         : std::nullopt;
         });
  per_fs(out, st, "zrep_unsent_snapshots", "zrep snapshots made and not sent yet",
         [](const F& f) -> D {
           return f.has_unsent_snapshots() ? D(static_cast<double>(f.unsent_snapshots()))
                                           : std::nullopt;
         });
  per_fs(out, st, "zrep_failures_in_a_row", "scheduled runs that failed since the last success",
         [](const F& f) -> D { return static_cast<double>(f.failures_in_a_row()); });
  per_fs(out, st, "zrep_fenced", "1 when the filesystem is demoted (fenced) here",
         [](const F& f) -> D { return f.has_fenced() ? 1 : 0; });
  per_fs(out, st, "zrep_split_brain", "1 when both hosts claim the master role at one epoch",
         [](const F& f) -> D { return f.last_error_code() == "split-brain" ? 1 : 0; });
  per_fs(out, st, "zrep_unfinished_switch", "1 while a role switch is unfinished (read-only)",
         [](const F& f) -> D { return f.has_unfinished_switch() ? 1 : 0; });
  per_fs(out, st, "zrep_lag_warning_seconds", "the lag over which status and check warn",
         [](const F& f) -> D { return static_cast<double>(f.warn_lag_seconds()); });
  per_fs(out, st, "zrep_lag_critical_seconds", "the lag over which status and check are critical",
         [](const F& f) -> D { return static_cast<double>(f.crit_lag_seconds()); });
}

void peer_gauges(Exposition& out, const std::vector<PeerMetrics>& peers) {
  out.family("zrep_peer_link_up", Kind::kGauge,
             "1 while the link with the peer is up, 0 while it is down (peers with a link only)");
  for (const auto& p : peers) {
    if (p.link_up) out.sample("zrep_peer_link_up", {{"peer", p.name}}, *p.link_up ? 1 : 0);
  }
  out.family("zrep_peer_sessions", Kind::kGauge, "authenticated sessions of the peer open now");
  for (const auto& p : peers) out.sample("zrep_peer_sessions", {{"peer", p.name}}, p.sessions);
}

}  // namespace

void describe_metrics(metrics::Registry& r) {
  r.describe(metric::kSyncs, Kind::kCounter,
             "transfers this host sent that the destination verified (init, sync, failover)");
  r.describe(metric::kSyncFailures, Kind::kCounter,
             "operations on the filesystem that failed, by reason (the error code)");
  r.describe(metric::kSyncDuration, Kind::kHistogram, "duration of verified transfers",
             {0.1, 0.5, 1, 5, 30, 120, 600, 3600});
  r.describe(metric::kSentBytes, Kind::kCounter, "stream bytes sent in verified transfers");
  r.describe(metric::kReceivedBytes, Kind::kCounter, "stream bytes received from the peer");
  r.describe(metric::kHandshakeFailures, Kind::kCounter,
             "connections refused before a session began, by reason");
}

std::string metrics_text(const ScrapeInput& in, const metrics::Registry& registry) {
  Exposition out;
  out.family("zrep_build_info", Kind::kGauge, "1, with the agent's version and its ZFS");
  out.sample("zrep_build_info",
             {{"version", in.version}, {"zfs", in.zfs_version}, {"host", in.host}}, 1);
  out.family("zrep_status_up", Kind::kGauge,
             "1 when this scrape could list the zrep filesystems (else the per-filesystem "
             "gauges are missing)");
  out.sample("zrep_status_up", {}, in.status_ok ? 1 : 0);
  if (in.status.has_certificate_not_after()) {
    out.family("zrep_certificate_expiry_seconds", Kind::kGauge,
               "seconds until this host's certificate expires");
    out.sample("zrep_certificate_expiry_seconds", {},
               static_cast<double>(in.status.certificate_not_after() - in.now));
  }
  filesystem_gauges(out, in.status);
  peer_gauges(out, in.peers);
  registry.expose(out);
  return out.text();
}

}  // namespace zrep
