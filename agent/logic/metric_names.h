// The names of the metrics the agent counts where things happen (ops, endpoint, daemon); the
// daemon describes them (agent/daemon/metrics_text.cc) and serves them with the gauges it reads
// at scrape time. deploy/grafana-dashboard.json queries them; a test checks that each is served.
#pragma once

namespace zrep::metric {

// Per filesystem (label fs): every transfer this host ran as the sender (init, sync, the final
// send of a failover), and its failures by reason (label reason: the error code).
inline constexpr const char* kSyncs = "zrep_syncs_total";
inline constexpr const char* kSyncFailures = "zrep_sync_failures_total";
inline constexpr const char* kSyncDuration = "zrep_sync_duration_seconds";
inline constexpr const char* kSentBytes = "zrep_sent_bytes_total";
// Per replica held here (labels fs, peer): bytes received from the peer.
inline constexpr const char* kReceivedBytes = "zrep_received_bytes_total";
// Connections refused before a session began (label reason).
inline constexpr const char* kHandshakeFailures = "zrep_handshake_failures_total";

}  // namespace zrep::metric
